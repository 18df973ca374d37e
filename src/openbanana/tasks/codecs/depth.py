"""Metric depth <-> RGB: the paper's power transform and 7-edge path over the RGB cube.

Encoding (Vision Banana, after Barron 2025):

* power transform ``f(d) = 1 - (1 - d/(lam*c))**(lam+1)`` with ``lam = -3, c = 10/3``, i.e.
  ``f = 1 - (1 + d/10)**-2``: [0, inf) m -> [0, 1); inverse ``d = 10*((1 - f)**-0.5 - 1)``.
* ``f`` is a position along the path black -> red -> yellow -> green -> cyan -> blue -> magenta
  -> white, each edge 1/7 of ``f``. With 8-bit channels every edge has 255 steps, so the path
  has ``STEPS = 7*255 = 1785`` steps and an encoded pixel is one of 1786 colours, position ``n``
  with ``f = n / 1785``. Encoding rounds ``f*1785`` to the nearest integer.
* Corner depths: 0, 0.80, 1.83, 3.23, 5.28, 8.71, 16.46 m, inf (white).

Decoding projects any RGB onto the nearest of the 7 segments (ties -> the earlier segment) and
reads its position there. Every edge of the path changes exactly one channel, so the projection
is exact integer arithmetic: the distance to segment k is the distance in the two channels that
segment holds fixed, and the position on it is the third channel (or 255 minus it). White
(``n = 1785``, ``f = 1``) would be infinity: its ``f`` is clipped to ``1 - 1/(4*1785)``, which
decodes to :data:`WHITE_DEPTH_M` (about 835 m) and re-encodes to white; every depth of at least
about 587.5 m (:data:`WHITE_MIN_DEPTH_M`) encodes to white.

Invalid input depths (NaN, -inf, negative) are never silently encoded: ``invalid="error"``
(default) raises, ``invalid="mask"`` paints them black and returns ``(rgb, valid)``, and
``invalid="black"`` paints them black and returns only the image (lossy: black also means 0 m).

The numpy decoder (and torch CPU tensors, which share memory with numpy) uses a lookup table
over all 2**24 colours (64 MiB float32, built once per process in about a second on first use),
read in cache-sized chunks and, on images of at least :data:`PARALLEL_MIN_PIXELS` pixels, split
over a thread pool (numpy releases the GIL; ``threads=`` or ``OPENBANANA_CODEC_THREADS`` choose);
tensors on other devices (CUDA) are decoded by :func:`decode_depth_torch`, which computes the
projection with integer tensor ops on that device. All paths return bit-identical results.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from openbanana.tasks.codecs._array import (
    Array,
    check_map,
    check_rgb,
    describe,
    device_table,
    first_location,
    is_torch,
    to_numpy,
)

# torch is imported inside the functions that take tensors: the codecs are numpy-first and load with
# `openbanana --help` (see _array.py).

LAMBDA = -3.0
C = 10.0 / 3.0
SEGMENTS = 7
LEVELS = 255
STEPS = SEGMENTS * LEVELS  # 1785 steps along the path, 1786 colours

#: the 8 corners of the path, in order (uint8 RGB)
PATH_CORNERS = (
    np.array(
        [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1], [1, 1, 1]],
        dtype=np.int32,
    )
    * 255
).astype(np.uint8)
PATH_CORNER_NAMES = ("black", "red", "yellow", "green", "cyan", "blue", "magenta", "white")

#: f is clipped to this value below 1 when decoding (white), so white decodes to a finite depth
WHITE_UNIT = 1.0 - 0.25 / STEPS


def _path_rgb() -> np.ndarray:
    n = np.arange(STEPS + 1)
    k = np.minimum(n // LEVELS, SEGMENTS - 1)
    t = n - LEVELS * k
    v0 = PATH_CORNERS[k].astype(np.int32)
    v1 = PATH_CORNERS[k + 1].astype(np.int32)
    return (v0 + (v1 - v0) // 255 * t[:, None]).astype(np.uint8)


#: the 1786 colours of the path, position n -> RGB (uint8 (1786, 3))
PATH_RGB = _path_rgb()
PATH_RGB.setflags(write=False)


def _segments() -> list[tuple[tuple[tuple[int, int], tuple[int, int]], int, bool]]:
    """For each edge: ((fixed channel, value), (fixed channel, value)), varying channel, increasing."""
    out = []
    for k in range(SEGMENTS):
        a = PATH_CORNERS[k].astype(int)
        b = PATH_CORNERS[k + 1].astype(int)
        var = int(np.flatnonzero(a != b)[0])
        fixed = tuple((j, int(a[j])) for j in range(3) if j != var)
        out.append((fixed, var, bool(b[var] > a[var])))
    return out


_SEGS = _segments()


def path_position(r, g, b):
    """Exact path position ``n`` in 0..1785 of RGB values (numpy or torch int arrays, broadcastable).

    Projects onto the nearest segment (integer squared distance over the two fixed channels;
    ties -> the earlier segment) and adds the position along it (0..255).
    """
    ch = (r, g, b)
    best_d = best_n = None
    for k, (fixed, var, inc) in enumerate(_SEGS):
        (j0, v0), (j1, v1) = fixed
        d = (ch[j0] - v0) ** 2 + (ch[j1] - v1) ** 2
        n = LEVELS * k + (ch[var] if inc else LEVELS - ch[var])
        if best_d is None:
            best_d, best_n = d + 0 * n, n + 0 * d
        else:
            closer = d < best_d
            if is_torch(closer):
                import torch

                best_d = torch.where(closer, d, best_d)
                best_n = torch.where(closer, n, best_n)
            else:
                best_d = np.where(closer, d, best_d)
                best_n = np.where(closer, n, best_n)
    return best_n


def _unit_to_depth_f64(f: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10.0 * ((1.0 - f) ** -0.5 - 1.0)


#: decoded depth of every path position n (float32 (1786,)), white clipped to WHITE_UNIT
DEPTH_OF_POSITION = _unit_to_depth_f64(np.minimum(np.arange(STEPS + 1) / STEPS, WHITE_UNIT)).astype(
    np.float32
)
DEPTH_OF_POSITION.setflags(write=False)
#: depth that white decodes to (m)
WHITE_DEPTH_M = float(DEPTH_OF_POSITION[-1])
#: smallest depth that encodes to white (m): f*1785 rounds to 1785 from f = 1 - 0.5/1785 on
WHITE_MIN_DEPTH_M = float(_unit_to_depth_f64(np.array(1.0 - 0.5 / STEPS)))
#: depths of the 8 path corners (m); the last is inf
CORNER_DEPTHS_M = tuple(float(v) for v in _unit_to_depth_f64(np.arange(SEGMENTS + 1) / SEGMENTS))

INVALID_RULES = ("error", "mask", "black")


# ----------------------------------------------------------------------------- transform
def _check_depth_values(d: np.ndarray, name: str) -> np.ndarray:
    """Boolean mask of invalid depths (NaN, -inf, negative)."""
    return np.isnan(d) | (d < 0)


def depth_to_unit(depth_m: Array | float) -> Array | float:
    """Power transform ``f = 1 - (1 + d/10)**-2``.

    Args:
        depth_m: metric depth in metres, >= 0 (+inf allowed -> 1). numpy, torch or a float.
    Returns:
        f in [0, 1], same kind and shape (float64 for numpy/float, the input's float dtype for torch).
    Raises:
        ValueError: on NaN or negative depth.
    """
    if is_torch(depth_m):
        d = depth_m if depth_m.dtype.is_floating_point else depth_m.double()
        bad = to_numpy((d < 0) | d.isnan())
        if bad.any():
            raise ValueError(f"depth_m: expected depths >= 0, got {int(bad.sum())} NaN/negative values")
        return 1.0 - (1.0 + d / 10.0) ** -2
    d = np.asarray(depth_m, dtype=np.float64)
    if _check_depth_values(d, "depth_m").any():
        raise ValueError(f"depth_m: expected depths >= 0, got NaN/negative values in {describe(d)}")
    f = 1.0 - (1.0 + d / 10.0) ** -2
    return float(f) if np.ndim(depth_m) == 0 and not isinstance(depth_m, np.ndarray) else f


def unit_to_depth(f: Array | float) -> Array | float:
    """Inverse power transform ``d = 10 * ((1 - f)**-0.5 - 1)``; f >= 1 gives +inf.

    Args:
        f: positions in [0, 1] (values above 1 are treated as 1). numpy, torch or a float.
    Returns:
        depth in metres, same kind and shape.
    Raises:
        ValueError: on NaN or negative f.
    """
    if is_torch(f):
        import torch

        x = f if f.dtype.is_floating_point else f.double()
        bad = to_numpy((x < 0) | x.isnan())
        if bad.any():
            raise ValueError(f"f: expected values in [0, 1], got {int(bad.sum())} NaN/negative values")
        x = torch.clamp(x, max=1.0)
        return 10.0 * ((1.0 - x) ** -0.5 - 1.0)
    x = np.asarray(f, dtype=np.float64)
    if (np.isnan(x) | (x < 0)).any():
        raise ValueError(f"f: expected values in [0, 1], got NaN/negative values in {describe(x)}")
    d = _unit_to_depth_f64(np.minimum(x, 1.0))
    return float(d) if np.ndim(f) == 0 and not isinstance(f, np.ndarray) else d


# ----------------------------------------------------------------------------- encode
def _invalid_message(bad: np.ndarray, d: np.ndarray) -> str:
    loc = first_location(bad)
    return (
        f"depth_m: expected metric depths in [0, inf] (NaN, -inf and negative values are invalid), "
        f"got {int(bad.sum())} invalid value(s), the first at index {loc} = {d[loc]!r}; "
        "pass invalid='mask' to get (rgb, valid) with invalid pixels painted black"
    )


def encode_depth(depth_m: Array, *, invalid: str = "error") -> Array | tuple[Array, Array]:
    """Encode metric depth as RGB along the 7-edge path.

    Args:
        depth_m: depth in metres, shape (H, W) or (B, H, W), numpy or torch (any real dtype).
            0 -> black, +inf -> white (and everything from ~587.5 m on).
        invalid: what to do with NaN, -inf and negative depths: ``"error"`` (default) raises
            ValueError naming the count and the first location; ``"mask"`` paints them black and
            returns ``(rgb, valid)``; ``"black"`` paints them black and returns only ``rgb``.
    Returns:
        uint8 RGB of shape depth_m.shape + (3,), same kind/device as the input; with
        ``invalid="mask"`` also the bool validity mask of shape depth_m.shape.
    """
    if invalid not in INVALID_RULES:
        raise ValueError(f"invalid: expected one of {INVALID_RULES}, got {invalid!r}")
    check_map(depth_m, "depth_m", kind="float")
    if is_torch(depth_m):
        return _encode_depth_torch(depth_m, invalid)
    d = np.asarray(depth_m, dtype=np.float64)
    bad = _check_depth_values(d, "depth_m")
    any_bad = bool(bad.any())
    if any_bad and invalid == "error":
        raise ValueError(_invalid_message(bad, d))
    if any_bad:
        d = np.where(bad, 0.0, d)
    n = np.rint((1.0 - (1.0 + d / 10.0) ** -2) * STEPS).astype(np.intp)
    np.clip(n, 0, STEPS, out=n)
    rgb = PATH_RGB[n]
    if invalid == "mask":
        return rgb, ~bad
    return rgb


def _encode_depth_torch(depth_m, invalid: str):
    import torch

    d = depth_m.to(torch.float64)
    bad = d.isnan() | (d < 0)
    bad_np = bad.cpu().numpy()
    if bad_np.any() and invalid == "error":
        raise ValueError(_invalid_message(bad_np, d.cpu().numpy()))
    d = torch.where(bad, torch.zeros_like(d), d)
    n = torch.round((1.0 - (1.0 + d / 10.0) ** -2) * STEPS).to(torch.int64).clamp_(0, STEPS)
    table = device_table(PATH_RGB, depth_m.device)
    rgb = table[n]
    if invalid == "mask":
        return rgb, ~bad
    return rgb


# ----------------------------------------------------------------------------- decode
_LUT: np.ndarray | None = None
_LUT_LOCK = threading.Lock()


def _build_position_lut() -> np.ndarray:
    """Path position of all 2**24 colours, indexed by ``r | g << 8 | b << 16`` (uint16)."""
    x = np.arange(256, dtype=np.int32)
    g = x[:, None]
    r = x[None, :]
    lut = np.empty((256, 256, 256), np.uint16)  # [b, g, r]
    for b in range(256):
        lut[b] = path_position(r, g, np.int32(b))
    return lut.reshape(-1)


def depth_lut() -> np.ndarray:
    """The lazily built float32 table colour index -> depth (m), shared by the process."""
    global _LUT
    if _LUT is None:
        with _LUT_LOCK:
            if _LUT is None:
                lut = DEPTH_OF_POSITION[_build_position_lut()]
                lut.setflags(write=False)
                _LUT = lut
    return _LUT


_CHUNK = 1 << 16  # pixels per step: the index buffer stays in cache
#: images with at least this many pixels are decoded by several threads (when threads allow)
PARALLEL_MIN_PIXELS = 1 << 18
_MAX_THREADS = 8
_POOL = None
_POOL_KEY = (0, 0)  # (process id, workers) of _POOL
_POOL_LOCK = threading.Lock()


def decode_threads() -> int:
    """Default number of threads for large decodes: ``OPENBANANA_CODEC_THREADS`` if set, else the
    CPUs this process may use (at most 8)."""
    env = os.environ.get("OPENBANANA_CODEC_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"OPENBANANA_CODEC_THREADS: expected a positive integer, got {env!r}") from None
        if n < 1:
            raise ValueError(f"OPENBANANA_CODEC_THREADS: expected a positive integer, got {env!r}")
        return n
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(_MAX_THREADS, cpus))


def _pool(workers: int):
    """A process-wide thread pool with at least ``workers`` threads.

    A larger request replaces the pool without shutting the old one down (a concurrent caller
    may still be submitting to it; its idle threads exit once it is dropped). A forked child
    (e.g. a DataLoader worker) inherits the pool object but not its threads, so the pool is
    rebuilt when the process id changes.
    """
    global _POOL, _POOL_KEY
    with _POOL_LOCK:
        pid = os.getpid()
        if _POOL is None or _POOL_KEY[0] != pid or _POOL_KEY[1] < workers:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openbanana-codec")
            _POOL_KEY = (pid, workers)
        return _POOL


def _lookup_span(u: np.ndarray, lut: np.ndarray, flat: np.ndarray, start: int, stop: int) -> None:
    """``flat[i] = lut[u[i] & 0xFFFFFF]`` for i in [start, stop), in cache-sized chunks.

    Per chunk: one unaligned strided copy of the 32-bit reads into an intp buffer, an in-place
    mask and a gather (``mode="wrap"``: indices are < 2**24 by construction, so it never wraps and
    skips the clip). All three release the GIL, so spans run in parallel threads.
    """
    buf = np.empty(min(_CHUNK, stop - start), np.intp)
    for s in range(start, stop, _CHUNK):
        e = min(s + _CHUNK, stop)
        b = buf[: e - s]
        np.copyto(b, u[s:e], casting="unsafe")
        np.bitwise_and(b, 0xFFFFFF, out=b)
        np.take(lut, b, out=flat[s:e], mode="wrap")


def _lookup(rgb: np.ndarray, lut: np.ndarray, threads: int = 1) -> np.ndarray:
    """``lut[r | g << 8 | b << 16]`` for every pixel of a C-contiguous uint8 (..., 3) image.

    Each pixel's index comes from one unaligned 32-bit read at stride 3 masked to 24 bits (the
    top byte is the next pixel's red); the last pixel, which has no next byte, is read on its own.
    With ``threads > 1`` the pixels are split into that many contiguous spans decoded at once.
    """
    a = rgb.reshape(-1)
    n = a.size // 3
    out = np.empty(rgb.shape[:-1], np.float32)
    flat = out.reshape(-1)
    if n == 0:
        return out
    m = n - 1
    if m:
        u = np.ndarray((m,), dtype="<u4", buffer=a, offset=0, strides=(3,))
        workers = max(1, min(int(threads), m // _CHUNK))
        if workers == 1:
            _lookup_span(u, lut, flat, 0, m)
        else:
            bounds = [m * i // workers for i in range(workers + 1)]
            pool = _pool(workers - 1)
            futures = [
                pool.submit(_lookup_span, u, lut, flat, bounds[i], bounds[i + 1]) for i in range(1, workers)
            ]
            _lookup_span(u, lut, flat, bounds[0], bounds[1])
            for f in futures:
                f.result()
    flat[-1] = lut[int(a[-3]) | int(a[-2]) << 8 | int(a[-1]) << 16]
    return out


def decode_depth(rgb: Array, *, max_depth_m: float | None = None, threads: int | None = None) -> Array:
    """Decode RGB drawn with the 7-edge path back to metric depth.

    Any colour decodes: it is projected onto the nearest segment of the path (clamped), so
    off-path colours from a generator still give a depth.

    Args:
        rgb: uint8 RGB, shape (H, W, 3) or (B, H, W, 3), numpy or torch (any device).
        max_depth_m: optional upper clip of the result (m, > 0). Without it white decodes to
            :data:`WHITE_DEPTH_M` (~835 m).
        threads: CPU threads for the table lookup of numpy / CPU-tensor inputs. ``None`` (default):
            :func:`decode_threads` (all usable CPUs up to 8, or ``OPENBANANA_CODEC_THREADS``) for
            images of at least :data:`PARALLEL_MIN_PIXELS` pixels, 1 below that. The result does not
            depend on it.
    Returns:
        float32 depth in metres, shape rgb.shape[:-1], finite and >= 0, same kind/device.
    """
    check_rgb(rgb)
    if threads is not None and not (
        isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1
    ):
        raise ValueError(f"threads: expected a positive integer or None, got {threads!r}")
    if max_depth_m is not None and not (isinstance(max_depth_m, (int, float)) and max_depth_m > 0):
        raise ValueError(f"max_depth_m: expected a positive number of metres or None, got {max_depth_m!r}")
    if is_torch(rgb):
        if rgb.device.type != "cpu":
            return decode_depth_torch(rgb, max_depth_m=max_depth_m)
        import torch

        # CPU tensors share memory with numpy: the lookup table is much faster than tensor ops
        return torch.from_numpy(decode_depth(rgb.numpy(), max_depth_m=max_depth_m, threads=threads))
    x = np.ascontiguousarray(rgb)
    if threads is None:
        threads = decode_threads() if x.size // 3 >= PARALLEL_MIN_PIXELS else 1
    out = _lookup(x, depth_lut(), threads)
    if max_depth_m is not None:
        np.minimum(out, np.float32(max_depth_m), out=out)
    return out


def decode_depth_torch(rgb, *, max_depth_m: float | None = None):
    """The tensor-op decoder (any device, used for non-CPU tensors): projection without a table.

    Args/Returns as :func:`decode_depth` (``rgb`` a uint8 torch tensor); bit-identical results.
    """
    import torch

    check_rgb(rgb)
    x = rgb.to(torch.int32)
    n = path_position(x[..., 0], x[..., 1], x[..., 2]).to(torch.int64)
    out = device_table(DEPTH_OF_POSITION, rgb.device)[n]
    if max_depth_m is not None:
        out = out.clamp(max=float(max_depth_m))
    return out


def unit_to_depth_soft(f):
    """:func:`unit_to_depth` for training losses: ``10 * ((1 - f)**-0.5 - 1)`` on a float tensor,
    differentiable and without checks (``f`` must be below 1: clamp it first)."""
    return 10.0 * ((1.0 - f) ** -0.5 - 1.0)


def path_unit_soft(rgb01):
    """Path position ``f`` in [0, 1] of float RGB, differentiable: the decoder for training losses.

    The same projection as :func:`path_position` (nearest segment over the two channels it holds
    fixed, ties -> the earlier segment), on floats: the position along the chosen segment is its
    varying channel, clamped to the segment, so the gradient flows along the path and not across it.

    Args:
        rgb01: float torch tensor ``[B, 3, H, W]`` in [0, 1] (any values; off-path colours project).
    Returns:
        f, ``[B, H, W]`` in [0, 1]; on 8-bit colours it equals ``path_position / STEPS``.
    """
    import torch

    ch = (rgb01 * LEVELS).unbind(1)  # in 8-bit units: integer colours tie exactly as in path_position
    dist, pos = [], []
    for k, (fixed, var, inc) in enumerate(_SEGS):
        (j0, v0), (j1, v1) = fixed
        dist.append((ch[j0] - v0) ** 2 + (ch[j1] - v1) ** 2)
        along = ch[var] if inc else LEVELS - ch[var]
        pos.append(k + along.clamp(0.0, LEVELS) / LEVELS)
    nearest = torch.stack(dist, 1).argmin(1, keepdim=True)  # [B, 1, H, W], first of equal distances
    return torch.stack(pos, 1).gather(1, nearest).squeeze(1) / SEGMENTS


def decode_depth_reference(rgb: np.ndarray) -> np.ndarray:
    """Direct (table-free) numpy decoder, used to check the lookup table; slow but simple."""
    check_rgb(rgb)
    x = np.asarray(rgb).astype(np.int32)
    return DEPTH_OF_POSITION[path_position(x[..., 0], x[..., 1], x[..., 2])]


__all__ = [
    "CORNER_DEPTHS_M",
    "PARALLEL_MIN_PIXELS",
    "PATH_CORNERS",
    "PATH_RGB",
    "STEPS",
    "WHITE_DEPTH_M",
    "WHITE_MIN_DEPTH_M",
    "decode_depth",
    "decode_threads",
    "depth_to_unit",
    "encode_depth",
    "path_position",
    "path_unit_soft",
    "unit_to_depth",
    "unit_to_depth_soft",
]
