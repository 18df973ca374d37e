"""Shared array plumbing for the colour codecs: numpy or torch in, the same kind out.

Every public codec accepts a numpy array or a torch tensor, single (``H, W[, 3]``) or batched
(``B, H, W[, 3]``). Inputs are validated here with errors that say what was expected and what
arrived; results go back as the kind that came in (numpy -> numpy, torch -> torch on the input's
device). torch is imported lazily: it is only touched when a tensor is passed.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

Array = Any  # np.ndarray | torch.Tensor (torch is optional at import time)


def is_torch(x: object) -> bool:
    """True when ``x`` is a torch tensor (without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def describe(x: object) -> str:
    """A short human description of an array-like for error messages."""
    if is_torch(x) or isinstance(x, np.ndarray):
        kind = "tensor" if is_torch(x) else "array"
        return f"{kind} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def check_array(x: object, name: str) -> None:
    """Raise TypeError unless ``x`` is a numpy array or a torch tensor."""
    if not (isinstance(x, np.ndarray) or is_torch(x)):
        raise TypeError(f"{name}: expected a numpy array or a torch tensor, got {describe(x)}")


def to_numpy(x: Array) -> np.ndarray:
    """A numpy view/copy of ``x`` (torch tensors are detached and moved to CPU)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def like(result: np.ndarray, ref: Array) -> Array:
    """Return ``result`` as the kind of ``ref``: numpy stays numpy, torch goes to ref's device."""
    if is_torch(ref):
        import torch

        return torch.from_numpy(np.ascontiguousarray(result)).to(ref.device)
    return result


_DEVICE_TABLES: dict[tuple[int, str], Any] = {}


def device_table(table: np.ndarray, device: Any) -> Any:
    """A cached torch copy of a constant numpy table on ``device``."""
    import torch

    key = (id(table), str(device))
    t = _DEVICE_TABLES.get(key)
    if t is None:
        t = torch.from_numpy(np.array(table)).to(device)
        _DEVICE_TABLES[key] = t
    return t


def is_integer_dtype(x: Array) -> bool:
    if is_torch(x):
        import torch

        return x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
    return np.issubdtype(x.dtype, np.integer)


def is_float_dtype(x: Array) -> bool:
    if is_torch(x):
        return x.dtype.is_floating_point
    return np.issubdtype(x.dtype, np.floating)


def is_uint8(x: Array) -> bool:
    if is_torch(x):
        import torch

        return x.dtype == torch.uint8
    return x.dtype == np.uint8


def check_rgb(rgb: object, name: str = "rgb") -> None:
    """Validate an RGB image: uint8, shape (H, W, 3) or (B, H, W, 3), non-empty."""
    check_array(rgb, name)
    if rgb.ndim not in (3, 4) or rgb.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3) or (B, H, W, 3), got {describe(rgb)}")
    if not is_uint8(rgb):
        raise TypeError(
            f"{name}: expected uint8 RGB values 0..255, got {describe(rgb)}; "
            "convert float images in [0, 1] with (x * 255).round() to uint8 first"
        )
    if rgb.shape[-2] == 0 or rgb.shape[-3] == 0:
        raise ValueError(f"{name}: expected a non-empty image, got {describe(rgb)}")


def check_map(x: object, name: str, *, kind: str) -> None:
    """Validate a per-pixel map of shape (H, W) or (B, H, W); ``kind`` is 'float', 'int' or 'bool'."""
    check_array(x, name)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected shape (H, W) or (B, H, W), got {describe(x)}")
    if kind == "float" and not (is_float_dtype(x) or is_integer_dtype(x)):
        raise TypeError(f"{name}: expected a real-valued map, got {describe(x)}")
    if kind == "int" and not is_integer_dtype(x):
        raise TypeError(f"{name}: expected an integer label map, got {describe(x)}")
    if kind == "bool" and str(x.dtype) not in ("bool", "torch.bool"):
        raise TypeError(f"{name}: expected a boolean mask, got {describe(x)}")


def as_colors(colors: object, name: str = "colors", *, allow_empty: bool = False) -> np.ndarray:
    """Validate a palette: (K, 3) integers in 0..255 (list, tuple, numpy or torch) -> int32 (K, 3)."""
    if is_torch(colors):
        colors = to_numpy(colors)
    try:
        arr = np.asarray(colors)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name}: expected a (K, 3) list of RGB triples, got {colors!r}") from exc
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name}: expected at least one RGB colour, got an empty palette")
    if arr.size == 0:
        return np.zeros((0, 3), np.int32)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name}: expected shape (K, 3), got shape {arr.shape}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name}: expected integer RGB values, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
        raise ValueError(f"{name}: expected integer RGB values 0..255, got {arr.tolist()}")
    if arr.min() < 0 or arr.max() > 255:
        raise ValueError(f"{name}: expected RGB values in 0..255, got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int32)


#: the largest squared distance between two RGB colours (black to white): 3 * 255**2
MAX_SQUARED_DISTANCE = 3 * 255**2


def squared_distance_limit(max_distance: object, name: str = "max_distance") -> float | None:
    """Check a ``max_distance`` option (None, or a number >= 0) and return its square, or None.

    Distances at or beyond the RGB cube's diagonal (~441.7) exclude nothing, so they give a square
    just above :data:`MAX_SQUARED_DISTANCE` (no overflow for ``1e308`` or ``10**400``)."""
    if max_distance is None:
        return None
    if not (isinstance(max_distance, (int, float)) and max_distance >= 0):  # NaN fails ">= 0"
        raise ValueError(f"{name}: expected a distance >= 0 or None, got {max_distance!r}")
    if max_distance * max_distance > MAX_SQUARED_DISTANCE:  # exact for ints, inf for huge floats
        return float(MAX_SQUARED_DISTANCE + 1)
    return float(max_distance) ** 2


def as_color(color: object, name: str) -> np.ndarray:
    """Validate one RGB triple (0..255 integers) -> int32 (3,)."""
    try:
        arr = to_numpy(color) if is_torch(color) else np.asarray(color)
    except Exception as exc:
        raise ValueError(f"{name}: expected one (r, g, b) triple, got {color!r}") from exc
    if arr.shape != (3,):
        raise ValueError(f"{name}: expected one (r, g, b) triple, got {color!r}")
    return as_colors(arr[None], name)[0]


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pack uint8 RGB (..., 3) into one intp index per pixel: ``r | g << 8 | b << 16``.

    Reads each pixel's bytes with one strided 32-bit view (no per-channel passes), so it costs
    about one pass over the data. Returns a flat (N,) intp array.
    """
    a = np.ascontiguousarray(rgb).reshape(-1)
    n = a.size // 3
    idx = np.empty(n, np.intp)
    if n > 1:
        # each 4-byte little-endian read at stride 3 is r | g<<8 | b<<16 | next_r<<24
        u = np.ndarray((n - 1,), dtype="<u4", buffer=a, offset=0, strides=(3,))
        np.bitwise_and(u, 0xFFFFFF, out=idx[:-1], casting="unsafe")
    if n:
        idx[-1] = int(a[-3]) | int(a[-2]) << 8 | int(a[-1]) << 16
    return idx


def unique_colors(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct colours of a uint8 RGB image without sorting.

    Returns:
        (colours uint8 (U, 3), their packed keys intp (U,), every pixel's packed key intp (N,)).
        Map per-colour values back to pixels with :func:`per_pixel`.
    """
    idx = pack_rgb(rgb)
    seen = np.zeros(1 << 24, bool)
    seen[idx] = True
    keys = np.flatnonzero(seen)
    colours = np.stack([keys & 255, (keys >> 8) & 255, keys >> 16], axis=1).astype(np.uint8)
    return colours, keys, idx


def per_pixel(keys: np.ndarray, values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Scatter ``values`` (one per key) into a 2**24 table and read it at every pixel key."""
    table = np.empty(1 << 24, values.dtype)
    table[keys] = values
    return table[idx]


#: up to this many pixels the distinct colours are found by sorting (np.unique); above it by a
#: 2**24-entry presence table, whose fixed cost (clearing and scanning 16 MiB) only pays off there
SORT_UNIQUE_MAX_PIXELS = 1 << 18


def color_inverse(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct colours of a uint8 RGB image and, per pixel, the index of its colour among them.

    Returns:
        (colours uint8 (U, 3) in packed-key order, inverse intp (N,) with values 0..U-1), so that
        ``colours[inverse]`` equals the flattened image. Per-colour results ``v`` (shape (U,))
        spread to the pixels as ``v[inverse]``.
    """
    idx = pack_rgb(rgb)
    if idx.size <= SORT_UNIQUE_MAX_PIXELS:
        keys, inverse = np.unique(idx, return_inverse=True)
        inverse = inverse.reshape(-1)
    else:
        seen = np.zeros(1 << 24, bool)
        seen[idx] = True
        keys = np.flatnonzero(seen)
        table = np.empty(1 << 24, np.int32)
        table[keys] = np.arange(keys.size, dtype=np.int32)
        inverse = table[idx]
    colours = np.stack([keys & 255, (keys >> 8) & 255, keys >> 16], axis=1).astype(np.uint8)
    return colours, inverse


_SQ = (np.arange(256, dtype=np.int32)[None, :] - np.arange(256, dtype=np.int32)[:, None]) ** 2


def nearest_color_np(flat: np.ndarray, colors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest palette entry for each pixel (exact integer squared distances, ties -> lowest index).

    Args:
        flat: (N, 3) uint8 pixels.
        colors: (K, 3) int palette.
    Returns:
        (index int64 (N,), squared distance int64 (N,)).
    """
    r, g, b = (np.ascontiguousarray(flat[:, j]) for j in range(3))
    best_d = np.full(flat.shape[0], np.iinfo(np.int32).max, np.int32)
    best_i = np.zeros(flat.shape[0], np.int64)
    for k, (cr, cg, cb) in enumerate(np.asarray(colors, np.int64)):
        d = _SQ[cr][r]
        d += _SQ[cg][g]
        d += _SQ[cb][b]
        closer = d < best_d
        best_d[closer] = d[closer]
        best_i[closer] = k
    return best_i, best_d.astype(np.int64)


def nearest_color_torch(flat: Any, colors: np.ndarray) -> tuple[Any, Any]:
    """torch version of :func:`nearest_color_np` (same exact integer result), on flat's device."""
    import torch

    x = flat.to(torch.int32)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    best_d = torch.full((x.shape[0],), torch.iinfo(torch.int32).max, dtype=torch.int32, device=x.device)
    best_i = torch.zeros((x.shape[0],), dtype=torch.int64, device=x.device)
    for k, (cr, cg, cb) in enumerate(np.asarray(colors, np.int64).tolist()):
        dr, dg, db = r - cr, g - cg, b - cb
        d = dr * dr + dg * dg + db * db
        closer = d < best_d
        best_d = torch.where(closer, d, best_d)
        best_i = torch.where(closer, torch.full_like(best_i, k), best_i)
    return best_i, best_d.to(torch.int64)


def nearest_color(rgb: Array, colors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest palette index and squared distance for every pixel of ``rgb`` (..., 3) uint8.

    numpy: computed once per distinct colour, then spread to the pixels. torch: computed on the
    input's device. Both return numpy arrays of shape rgb.shape[:-1] for the caller to wrap.
    """
    shape = tuple(rgb.shape[:-1])
    if is_torch(rgb) and rgb.device.type == "cpu":
        rgb = rgb.numpy()  # zero-copy; the numpy path (one computation per distinct colour) is faster
    if is_torch(rgb):
        i, d = nearest_color_torch(rgb.reshape(-1, 3), colors)
        return i.cpu().numpy().reshape(shape), d.cpu().numpy().reshape(shape)
    x = np.ascontiguousarray(rgb)
    if x.size // 3 < 4096:
        i, d = nearest_color_np(x.reshape(-1, 3), colors)
        return i.reshape(shape), d.reshape(shape)
    uniq, inverse = color_inverse(x)
    i, d = nearest_color_np(uniq, colors)
    return i[inverse].reshape(shape), d[inverse].reshape(shape)


def first_location(mask: np.ndarray) -> tuple[int, ...]:
    """Index tuple of the first True entry of ``mask`` (row-major)."""
    return tuple(int(v) for v in np.unravel_index(int(np.flatnonzero(mask.reshape(-1))[0]), mask.shape))
