"""Shared by the CLI and server tests: a tiny random pipeline on disk and one file per input class.

Imported by ``tests/cli/conftest.py`` and ``tests/server/conftest.py``.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: inputs every surface must accept (and how they load: upright H, W)
ODD_GOOD = ("gray", "gray16", "rgb16", "cmyk", "rgba", "palette", "exif_rotated")
#: inputs every surface must refuse with a clear message, and a word that message contains
BAD = {
    "corrupt": "corrupt",
    "truncated": "truncated",
    "not_image": "not an image",
    "empty": "empty",
    "bomb": "bomb",
    "huge": "more than the cap",
}


def build_tiny_pipeline_dir(path: Path) -> Path:
    """A randomly initialised tiny pipeline at its smallest size, saved as a user would get it."""
    import torch

    from openbanana.backends.text import TextEncoderConfig
    from openbanana.backends.tiny import TinyBackend, TinyConfig
    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.pipeline_config import PipelineConfig

    torch.manual_seed(0)
    cfg = TinyConfig(
        channels=8,
        channel_mults=(1, 2),
        num_res_blocks=1,
        attn_levels=(1,),
        heads=2,
        emb_dim=32,
        text=TextEncoderConfig(dim=32, layers=1, heads=2),
    )
    backend = TinyBackend(cfg)
    with torch.no_grad():  # zero-initialised output layers would make every answer the same grey
        for p in backend.parameters():
            if not p.any():
                p.normal_(0.0, 0.2)
    pipe = OpenBananaPipeline(backend, PipelineConfig(backend="tiny", resolution=32))
    pipe.save_pretrained(path)
    return path


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width x height`` over a tiny pixel stream (a bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    body = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _save(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, **kw)
    return buf.getvalue()


def write_inputs(folder: Path, *, h: int = 24, w: int = 36) -> dict[str, Path]:
    """Write one file per input class (keys: ``ODD_GOOD``, ``BAD`` and ``"rgb"``) into ``folder``.

    ``huge`` claims 7500 x 7500 = 56 MP (over the loader's 50 MP cap, under Pillow's bomb limit);
    ``bomb`` claims 20000 x 20000 (over both). Both are a few KB on disk.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    png = _save(Image.fromarray(rgb), format="PNG")
    files: dict[str, bytes] = {"rgb": png}
    files["gray"] = _save(Image.fromarray(rgb[..., 0], "L"), format="PNG")
    files["gray16"] = _save(Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), format="PNG")
    from openbanana.io import encode_png16

    files["rgb16"] = encode_png16(rgb.astype(np.uint16) * 257)
    files["cmyk"] = _save(Image.fromarray(rgb).convert("CMYK"), format="JPEG", quality=90)
    rgba = np.concatenate([rgb, np.full((h, w, 1), 128, np.uint8)], axis=2)
    files["rgba"] = _save(Image.fromarray(rgba, "RGBA"), format="PNG")
    files["palette"] = _save(Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE), format="PNG")
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # viewer rotates 90 degrees clockwise: upright size is (w, h) -> (h, w) swapped
    files["exif_rotated"] = _save(img, format="JPEG", quality=90, exif=exif.tobytes())
    files["corrupt"] = png[:40] + bytes(rng.integers(0, 256, 300, dtype=np.uint8)) + png[-12:]
    files["truncated"] = png[: len(png) * 2 // 3]
    files["not_image"] = b"this is a text file, not a picture\n"
    files["empty"] = b""
    files["bomb"] = _png_header_only(20000, 20000)
    files["huge"] = _png_header_only(7500, 7500)
    suffix = {"cmyk": ".jpg", "exif_rotated": ".jpg"}
    out = {}
    for name, data in files.items():
        p = folder / f"{name}{suffix.get(name, '.png')}"
        p.write_bytes(data)
        out[name] = p
    return out


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``openbanana`` like a user (on the CPU for ``predict`` unless ``--device`` is given);
    returns (exit code, stdout, stderr) and checks that no traceback was printed."""
    import contextlib

    from openbanana.cli import main

    if argv[:1] == ["predict"] and "--device" not in argv:
        argv = [*argv, "--device", "cpu"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    stdout, stderr = out.getvalue(), err.getvalue()
    assert "Traceback" not in stdout + stderr
    return code, stdout, stderr
