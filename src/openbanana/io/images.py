"""The one image loader of the project: any file a user hands us -> uint8 ``(H, W, 3)`` RGB.

Every surface (Python API, CLI, server, data tools) loads user images through :func:`load_image`,
so every surface rejects the same bad inputs with the same clear message
(:class:`openbanana.errors.ImageLoadError`, a ``ValueError``):

- missing paths, folders, empty files, files larger than ``max_bytes``;
- non-images and formats Pillow cannot read;
- corrupt and truncated files (Pillow's ``LOAD_TRUNCATED_IMAGES`` is never relied on);
- decompression bombs: the pixel count is checked from the header *before* decoding, against our
  own cap ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`), and Pillow's own
  ``Image.MAX_IMAGE_PIXELS`` warning is raised as an error too.

and converts every readable mode to 8-bit RGB the same way:

- 16-bit and 32-bit integer images (``I;16``, ``I``) are scaled from their full range
  (``v / 257`` for 16-bit); float images (``F``) must lie in ``[0, 1]`` and are scaled by 255;
- grayscale (``1``, ``L``) is repeated over the three channels;
- CMYK is converted through its embedded ICC profile when there is one, else Pillow's formula;
- images with alpha (``RGBA``, ``LA``, ``PA``, palette images with a transparent index) are
  composited over :data:`ALPHA_BACKGROUND` (white), as a browser shows them;
- palette (``P``) images are expanded to their colours;
- the EXIF orientation tag is applied, so the array is upright as a viewer shows it, *before*
  inference (coordinates such as ``--point X,Y`` refer to this upright image);
- multi-frame files (GIF, TIFF, APNG) give their first frame.
"""

from __future__ import annotations

import glob
import io
import re
import struct
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from openbanana.errors import ImageLoadError, shorten
from openbanana.io.png16 import load_png16, save_png16

#: our own cap on width x height (50 megapixels: above any phone camera, below Pillow's bomb limit)
DEFAULT_MAX_PIXELS = 50_000_000
#: our own cap on the file size in bytes (64 MiB)
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: images with transparency are composited over this colour (RGB, 0-255)
ALPHA_BACKGROUND = (255, 255, 255)
#: file name suffixes taken from a folder or glob (explicitly named files are always tried)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

__all__ = [
    "ALPHA_BACKGROUND",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "as_rgb_uint8",
    "iter_inputs",
    "list_inputs",
    "load_image",
    "load_png16",
    "save_png",
    "save_png16",
]

Source = str | Path | bytes | bytearray | memoryview | BinaryIO | Image.Image


def _describe(source: object) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return f"<{type(source).__name__}>"


def _read_bytes(source: Source, max_bytes: int) -> bytes:
    name = _describe(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise ImageLoadError(f"{name}: no such file")
        if path.is_dir():
            raise ImageLoadError(f"{name}: is a folder, expected an image file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageLoadError(
                f"{name}: file is {size:,} bytes, larger than the cap of {max_bytes:,} bytes"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageLoadError(f"{name}: cannot read file ({exc.strerror or exc})") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes):
            raise ImageLoadError(f"{name}: expected a binary file object, read {type(data).__name__}")
    else:
        raise TypeError(
            f"expected a path, bytes, a binary file object, a PIL image or a numpy array, "
            f"got {type(source).__name__}"
        )
    if len(data) == 0:
        raise ImageLoadError(f"{name}: file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageLoadError(f"{name}: {len(data):,} bytes, larger than the cap of {max_bytes:,} bytes")
    return data


def _check_pixels(name: str, width: int, height: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise ImageLoadError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{name}: image is {width}x{height} = {width * height:,} pixels, more than the cap of "
            f"{max_pixels:,} (a decompression bomb or a very large image; downscale it first)"
        )


_PILLOW_PIXELS_RE = re.compile(r"Image size \((\d+) pixels\)")


def _bomb(name: str, exc: Exception, max_pixels: int) -> ImageLoadError:
    """The error for an image Pillow refuses as a bomb: our own cap's message when the image is over
    it too (so a surface says the cap it documents, not Pillow's 89 MP), else Pillow's limit."""
    m = _PILLOW_PIXELS_RE.search(str(exc))
    pixels = int(m.group(1)) if m else None
    if pixels is not None and pixels > max_pixels:
        return ImageLoadError(
            f"{name}: image is {pixels:,} pixels, more than the cap of {max_pixels:,} "
            "(a decompression bomb or a very large image; downscale it first)"
        )
    return ImageLoadError(f"{name}: refused as a decompression bomb ({exc})")


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Open, check the size from the header, then decode fully (all before any conversion)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _bomb(name, exc, max_pixels) from None
        except UnidentifiedImageError:
            head = data[:16]
            kind = "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "binary data"
            raise ImageLoadError(
                f"{name}: not an image (or a format Pillow cannot read); its first bytes look like {kind}"
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageLoadError(f"{name}: corrupt image header ({exc})") from None
        _check_pixels(name, img.width, img.height, max_pixels)
        try:
            img.load()
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _bomb(name, exc, max_pixels) from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:
            msg = str(exc) or type(exc).__name__
            what = "truncated" if "truncated" in msg or isinstance(exc, EOFError) else "corrupt"
            raise ImageLoadError(f"{name}: {what} image file ({msg})") from None
    if ImageFile.LOAD_TRUNCATED_IMAGES and getattr(img, "_truncated", False):
        raise ImageLoadError(f"{name}: truncated image file")
    return img


def _exif_upright(img: Image.Image, name: str) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 -- Pillow raises assorted types on broken EXIF blocks
        raise ImageLoadError(f"{name}: unreadable EXIF orientation ({exc})") from None


def _composite(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    rgba = img.convert("RGBA")
    base = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(base, rgba).convert("RGB")


def _to_rgb(img: Image.Image, name: str, background: tuple[int, int, int]) -> np.ndarray:
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img).astype(np.int64)
        if arr.size and arr.min() < 0:
            raise ImageLoadError(f"{name}: integer image with negative values ({arr.min()}) is not a photo")
        top = 65535 if (mode.startswith("I;16") or arr.max(initial=0) <= 65535) else 2**32 - 1
        gray = np.round(arr * (255.0 / top)).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all() or arr.min(initial=0) < 0 or arr.max(initial=0) > 1:
            raise ImageLoadError(
                f"{name}: float image must hold finite values in [0, 1], got "
                f"[{np.nanmin(arr):.4g}, {np.nanmax(arr):.4g}]"
            )
        gray = np.round(arr * 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "CMYK":
        return np.asarray(_cmyk_to_rgb(img), dtype=np.uint8)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        return np.asarray(_composite(img, background), dtype=np.uint8)
    if mode in ("1", "L", "P", "YCbCr", "RGBX"):
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    try:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (ValueError, OSError) as exc:
        raise ImageLoadError(f"{name}: unsupported image mode {mode!r} ({exc})") from None


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    icc = img.info.get("icc_profile")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 -- a broken profile falls back to the plain formula
            return img.convert("RGB")
    return img.convert("RGB")


def load_image(
    source: Source | np.ndarray,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    background: tuple[int, int, int] = ALPHA_BACKGROUND,
) -> np.ndarray:
    """Load any user image as upright 8-bit RGB.

    Args:
        source: a path, the file's bytes, a binary file object, a PIL image or a numpy array
            (arrays and PIL images skip the byte checks and go through the same mode rules).
        max_pixels: refuse images with more than this many pixels (checked before decoding).
        max_bytes: refuse files larger than this many bytes.
        background: RGB colour (0-255) that transparent pixels are composited over.

    Returns:
        uint8 array, C-contiguous, values 0-255.

    Shape:
        ``(H, W, 3)``, H and W of the upright image (after the EXIF orientation is applied).

    Raises:
        ImageLoadError: missing, empty, oversize, corrupt, truncated or non-image input.
        TypeError: ``source`` is not one of the accepted types.
    """
    if isinstance(source, np.ndarray):
        return as_rgb_uint8(source, max_pixels=max_pixels)
    if isinstance(source, Image.Image):
        name = f"<PIL {source.mode} image>"
        _check_pixels(name, source.width, source.height, max_pixels)
        img = source
        try:  # a lazily opened file is decoded here, so its errors read like ours
            img.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            what = "truncated" if "truncated" in str(exc) else "corrupt"
            raise ImageLoadError(f"{name}: {what} image file ({exc})") from None
    else:
        name = _describe(source)
        data = _read_bytes(source, max_bytes)
        img = _open(data, name, max_pixels)
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    img = _exif_upright(img, name)
    out = np.ascontiguousarray(_to_rgb(img, name, background))
    return out if out.flags.writeable else out.copy()  # arrays over PIL buffers are read-only


def as_rgb_uint8(array: np.ndarray, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Check and convert an in-memory image to uint8 ``(H, W, 3)``.

    Accepts ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` and ``(H, W, 4)`` (alpha composited over
    :data:`ALPHA_BACKGROUND`) arrays of dtype uint8, uint16 (scaled by 1/257), bool, or float in
    ``[0, 1]`` (scaled by 255). Anything else raises :class:`ImageLoadError` saying what arrived.
    """
    arr = np.asarray(array)
    name = f"<array {arr.dtype} {tuple(arr.shape)}>"
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageLoadError(f"{name}: expected an image of shape (H, W), (H, W, 3) or (H, W, 4)")
    _check_pixels(name, arr.shape[1], arr.shape[0], max_pixels)
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == bool:
        out = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        out = np.round(arr / 257.0).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ImageLoadError(f"{name}: float images must hold finite values in [0, 1]")
        out = np.round(arr * 255).astype(np.uint8)
    else:
        raise ImageLoadError(f"{name}: unsupported dtype; expected uint8, uint16, bool or float in [0, 1]")
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    elif out.shape[2] == 4:
        alpha = out[..., 3:4].astype(np.float32) / 255.0
        bg = np.asarray(ALPHA_BACKGROUND, np.float32)
        out = np.round(out[..., :3] * alpha + bg * (1 - alpha)).astype(np.uint8)
    out = np.ascontiguousarray(out)
    return out if out.flags.writeable else out.copy()


def save_png(path: str | Path, rgb: np.ndarray, compress_level: int = 1) -> Path:
    """Write a uint8 ``(H, W, 3)`` (or ``(H, W)``) array as an 8-bit PNG. Returns the path.

    ``compress_level`` 1 (the default) is several times faster to write than zlib's 6 and the
    files are a little larger; batch exports are dominated by PNG encoding otherwise.
    """
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
        raise ValueError(f"expected uint8 (H, W) or (H, W, 3), got {arr.dtype} {arr.shape}")
    path = Path(path)
    Image.fromarray(arr).save(path, format="PNG", optimize=False, compress_level=compress_level)
    return path


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def path_kind(path: str | Path) -> str | None:
    """``"file"``, ``"dir"`` or None (nothing there, or a name the system refuses: too long, a NUL
    byte). Never raises, so any text (an 800-character instruction) can be asked about."""
    try:
        p = Path(path)
        return "file" if p.is_file() else "dir" if p.is_dir() else None
    except (OSError, ValueError):
        return None


def list_inputs(specs: str | Path | Iterable[str | Path], *, recursive: bool = False) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted, de-duplicated list of image paths.

    Args:
        specs: one spec or several. A file is taken as given (whatever its suffix, so a bad file
            is reported when loaded); a folder gives its files with an image suffix
            (:data:`IMAGE_SUFFIXES`, case-insensitive; sub-folders with ``recursive``); a pattern
            with ``*``, ``?`` or ``[`` gives its matching files with an image suffix.
        recursive: descend into sub-folders of folders (``**`` in patterns always recurses).

    Returns:
        Paths in the order the specs were given, each spec's own paths sorted by name.

    Raises:
        ImageLoadError: a path does not exist, a folder holds no image files, or a pattern
            matches no image file.
    """
    if isinstance(specs, (str, Path)):
        specs = [specs]
    out: list[Path] = []
    seen: set[Path] = set()
    for spec in specs:
        text = str(spec)
        path = Path(text)
        kind = path_kind(path)
        if kind == "file":
            found = [path]
        elif kind == "dir":
            walker = path.rglob("*") if recursive else path.iterdir()
            files = [p for p in walker if p.is_file()]
            found = sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                others = f"; it holds {len(files)} other file(s)" if files else ""
                raise ImageLoadError(
                    f"{text}: folder contains no image files (looked for {', '.join(IMAGE_SUFFIXES)}){others}"
                )
        elif _has_glob(text):
            matches = [Path(p) for p in glob.glob(text, recursive=True)]
            found = sorted(p for p in matches if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ImageLoadError(f"{text}: pattern matches no image files")
        else:
            raise ImageLoadError(f"{shorten(text)}: no such file or folder")
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    if not out:
        raise ImageLoadError("no inputs given")
    return out


def iter_inputs(specs: str | Path | Iterable[str | Path], *, recursive: bool = False) -> Iterator[Path]:
    """Like :func:`list_inputs` (errors are raised at the call, not at the first ``next``)."""
    return iter(list_inputs(specs, recursive=recursive))
