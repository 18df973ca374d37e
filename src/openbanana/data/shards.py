"""WebDataset shards of synthetic (or any) scenes: writing and reading.

One sample per scene, keyed ``{split}-{seed:09d}``, with members:
  * ``rgb.png``       uint8 RGB;
  * ``depth.npy``     float16 metric z-depth in metres, +inf where nothing was hit (sky);
  * ``normals.png``   camera-frame normals in the paper's colour code (R = (1-x)/2, G = (1+y)/2,
                      B = (1+z)/2), 8 bits (about 0.5 deg); sky pixels are (0, 0, 0);
  * ``semantic.png``  uint8 label ids into CLASSES (255 = ignore);
  * ``instance.png``  uint16 instance ids (0 = none);
  * ``json``          metadata: seed, split, kind, camera, objects, caption, referring, reasoning.
"""

from __future__ import annotations

import glob
import io
import json
import os
from collections.abc import Iterable, Iterator

import numpy as np
from PIL import Image

from openbanana.errors import DataLayoutError
from openbanana.tasks.codecs import normals as normals_codec

MEMBERS = ("rgb.png", "depth.npy", "normals.png", "semantic.png", "instance.png", "json")


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    if arr.dtype == np.uint16:
        img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.uint16))
    else:
        img = Image.fromarray(arr)
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _unpng(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    arr = np.asarray(img)
    return arr.astype(np.uint16) if img.mode.startswith("I") else arr


def encode_normals(normals: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The paper's normals code (:func:`openbanana.tasks.codecs.normals.encode_normals`), black
    where ``valid`` is False."""
    return normals_codec.encode_normals(normals, valid)


def decode_normals(rgb: np.ndarray) -> np.ndarray:
    """Unit normals from ``normals.png`` (the codec's decoder), zero vectors where it is black."""
    return normals_codec.decode_normals(rgb)[0]


def scene_to_sample(scene) -> dict[str, bytes | str]:
    """Serialise a Scene into a WebDataset sample (dict of member name -> bytes)."""
    valid = np.isfinite(scene.depth_m)
    if scene.instance.max(initial=0) > 65535:
        raise ValueError("instance ids above 65535 do not fit a 16-bit PNG")
    buf = io.BytesIO()
    np.save(buf, scene.depth_m.astype(np.float16))
    return {
        "__key__": f"{scene.split}-{int(scene.seed):09d}",
        "rgb.png": _png(scene.rgb),
        "depth.npy": buf.getvalue(),
        "normals.png": _png(encode_normals(scene.normals, valid)),
        "semantic.png": _png(scene.semantic.astype(np.uint8)),
        "instance.png": _png(scene.instance.astype(np.uint16)),
        "json": json.dumps(scene.metadata()).encode(),
    }


def sample_to_dict(sample: dict) -> dict:
    """Decode a raw sample (member -> bytes) into arrays plus metadata (a Scene-like dict)."""
    missing = [m for m in MEMBERS if m not in sample]
    if missing:
        raise DataLayoutError(f"sample {sample.get('__key__')!r} lacks {missing}; expected members {MEMBERS}")
    meta = json.loads(sample["json"])
    depth = np.load(io.BytesIO(sample["depth.npy"]), allow_pickle=False).astype(np.float32)
    out = dict(meta)
    out.update({
        "key": sample.get("__key__"),
        "rgb": _unpng(sample["rgb.png"])[..., :3],
        "depth_m": depth,
        "normals": decode_normals(_unpng(sample["normals.png"])),
        "semantic": _unpng(sample["semantic.png"]).astype(np.uint8),
        "instance": _unpng(sample["instance.png"]).astype(np.int32),
    })
    return out


def write_shards(samples: Iterable[dict], out_dir: str, *, shard_size: int = 1000, prefix: str = "synth",
                 progress=None) -> list[str]:
    """Write samples into ``out_dir/{prefix}-%06d.tar``; returns the shard paths."""
    import webdataset as wds  # imports torch: kept off the CLI start-up path (cli.data imports this module)

    os.makedirs(out_dir, exist_ok=True)
    pattern = os.path.join(out_dir, f"{prefix}-%06d.tar")
    paths: list[str] = []
    with wds.ShardWriter(pattern, maxcount=shard_size, verbose=0) as sink:
        for s in samples:
            sink.write(s)
            if progress is not None:
                progress()
            if sink.fname and (not paths or paths[-1] != sink.fname):
                paths.append(sink.fname)
    return paths


def read_shards(urls: str | list[str]) -> Iterator[dict]:
    """Yield decoded Scene-like dicts from shards (paths, globs or brace patterns)."""
    import webdataset as wds  # imports torch: see write_shards

    if isinstance(urls, str) and any(c in urls for c in "*?") and "{" not in urls:
        urls = sorted(glob.glob(urls))
    if isinstance(urls, list) and not urls:
        raise DataLayoutError("no shards matched")
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False)
    for raw in ds:
        yield sample_to_dict(raw)
