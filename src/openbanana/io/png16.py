"""Lossless 16-bit PNG files (grayscale and RGB), written and read without Pillow.

Pillow writes 16-bit grayscale PNGs but not 48-bit RGB ones, and it reads 48-bit RGB PNGs back as
8-bit RGB, losing the low byte. Depth in millimetres, normals and label maps need all 16 bits, so
this module writes the PNG chunks itself (zlib + ``struct``) and reads its own files back exactly.
The files are standard PNGs: any viewer, OpenCV (``IMREAD_UNCHANGED``) or imageio opens them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from openbanana.errors import ImageLoadError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types: 0 = grayscale, 2 = RGB, 4 = grayscale + alpha, 6 = RGBA
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png16(array: np.ndarray, compress_level: int = 1) -> bytes:
    """Encode a 16-bit image as PNG bytes.

    Args:
        array: uint16 (or any integer dtype with values in [0, 65535]) image.
        compress_level: zlib level 0-9.

    Returns:
        The PNG file's bytes (bit depth 16; colour type grayscale or RGB).

    Shape:
        ``(H, W)`` grayscale or ``(H, W, 3)`` RGB; ``(H, W, 1)`` is treated as grayscale.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) array for a 16-bit PNG, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"cannot write an empty image of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        raise TypeError(f"expected an integer array for a 16-bit PNG, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        raise ValueError(f"values must lie in [0, 65535] for a 16-bit PNG, got [{arr.min()}, {arr.max()}]")
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else 3
    raw = arr.astype(">u2").reshape(h, w * channels).view(np.uint8)  # big-endian bytes, [H, W*C*2]
    # filter type 1 ("Sub") per row: each byte minus the same byte of the pixel to its left
    bpp = 2 * channels
    filtered = raw.copy()
    filtered[:, bpp:] = raw[:, bpp:] - raw[:, :-bpp]  # uint8 arithmetic wraps mod 256 as PNG wants
    rows = np.concatenate([np.ones((h, 1), np.uint8), filtered], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 16, 0 if channels == 1 else 2, 0, 0, 0)
    return b"".join(
        [
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), compress_level)),
            _chunk(b"IEND", b""),
        ]
    )


def save_png16(path: str | Path, array: np.ndarray, compress_level: int = 1) -> Path:
    """Write a lossless 16-bit PNG (see :func:`encode_png16`). Returns the path written."""
    path = Path(path)
    path.write_bytes(encode_png16(array, compress_level))
    return path


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    a, b, c = (x.astype(np.int16) for x in (a, b, c))
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c)).astype(np.uint8)


def _unfilter(data: np.ndarray, h: int, stride: int, bpp: int) -> np.ndarray:
    rows = data.reshape(h, stride + 1)
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: running sum per byte position within the pixel
            cur = np.cumsum(line.reshape(-1, bpp).astype(np.uint64), axis=0).astype(np.uint8).reshape(-1)
        elif kind == 2:  # Up
            cur = line + prev
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            cur = line.copy()
            for x in range(stride):
                left = cur[x - bpp] if x >= bpp else np.uint8(0)
                if kind == 3:
                    cur[x] = (int(cur[x]) + (int(left) + int(prev[x])) // 2) & 0xFF
                else:
                    upleft = prev[x - bpp] if x >= bpp else np.uint8(0)
                    pred = _paeth(np.array([left]), np.array([prev[x]]), np.array([upleft]))[0]
                    cur[x] = (int(cur[x]) + int(pred)) & 0xFF
        else:
            raise ImageLoadError(f"corrupt PNG: unknown row filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def decode_png16(data: bytes) -> np.ndarray:
    """Decode a non-interlaced 8- or 16-bit grayscale/RGB(A) PNG exactly.

    Returns:
        uint16 (bit depth 16) or uint8 (bit depth 8) array, ``(H, W)`` or ``(H, W, C)``.
    """
    if not data.startswith(_SIGNATURE):
        raise ImageLoadError("not a PNG file (bad signature)")
    pos, idat, header = len(_SIGNATURE), [], None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ImageLoadError("corrupt PNG: truncated chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise ImageLoadError("corrupt PNG: missing IHDR or IDAT")
    w, h, depth, ctype, _, _, interlace = header
    if depth not in (8, 16) or ctype not in _CHANNELS or interlace:
        raise ImageLoadError(
            f"unsupported PNG layout (bit depth {depth}, colour type {ctype}, interlace {interlace})"
        )
    channels = _CHANNELS[ctype]
    bpp = channels * depth // 8
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    except zlib.error as exc:
        raise ImageLoadError(f"corrupt PNG: {exc}") from None
    if raw.size != h * (w * bpp + 1):
        raise ImageLoadError(f"corrupt PNG: {raw.size} bytes of pixel data, expected {h * (w * bpp + 1)}")
    pixels = _unfilter(raw, h, w * bpp, bpp)
    if depth == 16:
        arr = pixels.view(">u2").astype(np.uint16)
    else:
        arr = pixels
    arr = arr.reshape(h, w, channels)
    return arr[..., 0] if channels == 1 else arr


def load_png16(path: str | Path) -> np.ndarray:
    """Read a PNG written by :func:`save_png16` (or any non-interlaced 8/16-bit PNG) exactly."""
    return decode_png16(Path(path).read_bytes())
