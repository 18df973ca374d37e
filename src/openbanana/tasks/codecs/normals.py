"""Surface normals <-> RGB in the paper's camera frame (with the flipped x), and frame converters.

Paper frame (``"paper"``): right-handed camera frame, +x right, +y up, +z toward the viewer;
unit outward normals. Colour code::

    R = (1 - x) / 2 * 255,  G = (1 + y) / 2 * 255,  B = (1 + z) / 2 * 255   (clipped, rounded)

so facing left (-1, 0, 0) -> (255, 128, 128), up -> (128, 255, 128), the camera -> (128, 128, 255).

Invalid pixels (``valid`` False, or zero vectors) are painted ``invalid_color`` (default black).
Decoding inverts the map and renormalises; a pixel is invalid when it is within
``invalid_tol`` (RGB distance, default 8) of ``invalid_color``, or when its centred vector is
near zero (norm < ``min_norm`` = 0.1 of a unit normal, e.g. mid-grey 128, 128, 128). Invalid
pixels decode to the normal (0, 0, 0) with ``valid`` False. (Black itself would decode to the
back-facing (1, -1, -1)/sqrt(3), which a visible surface cannot have.)

Frames (:data:`FRAMES`), each a sign flip of the paper's axes:

=========  ==========================================  ===========================================
name       axes                                        source
=========  ==========================================  ===========================================
paper      +x right, +y up, +z toward the viewer       Vision Banana
opengl     +x right, +y up, +z toward the viewer       OpenGL / Blender camera (same as paper)
marigold   +x right, +y up, +z toward the viewer       Marigold / diffusers ``visualize_normals``
                                                       (defaults: X right, Y top, Z facing the
                                                       observer); its colour code has no x flip:
                                                       R = (1 + x)/2
dsine      +x right, +y down, +z toward the viewer     DSINE README: "(X, Y, Z) = (right, down,
                                                       front)", outward normals, a wall facing
                                                       the camera is (0, 0, 1); colours
                                                       R, G, B = (1 + x, y, z)/2
opencv     +x right, +y down, +z away from the viewer  OpenCV / COLMAP camera (look direction +z)
=========  ==========================================  ===========================================
"""

from __future__ import annotations

import numpy as np

from openbanana.registry import Registry
from openbanana.tasks.codecs._array import (
    Array,
    as_color,
    check_array,
    check_rgb,
    describe,
    first_location,
    is_torch,
    like,
    to_numpy,
)

# torch is imported inside the functions that take tensors (see _array.py).

#: frame name -> signs that take a paper-frame vector into that frame (all frames are sign flips)
FRAMES: Registry[tuple[int, int, int]] = Registry("normals frame")
FRAMES.register("paper", (1, 1, 1))
FRAMES.register("opengl", (1, 1, 1))
FRAMES.register("marigold", (1, 1, 1))
FRAMES.register("dsine", (1, -1, 1))
FRAMES.register("opencv", (1, -1, -1))

#: per-channel sign of the paper's colour code: R = (1 - x)/2, G = (1 + y)/2, B = (1 + z)/2
COLOR_SIGNS = (-1.0, 1.0, 1.0)
# per channel: uint8 value -> signed centred component (x = 1 - 2R/255, y = 2G/255 - 1, z = 2B/255 - 1)
_CENTRED = [(s * (np.arange(256, dtype=np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0))).astype(np.float32)
            for s in COLOR_SIGNS]
_SQ_DIFF = (np.arange(256, dtype=np.int32)[None, :] - np.arange(256, dtype=np.int32)[:, None]) ** 2


def _check_normals(normals: object, name: str = "normals") -> None:
    check_array(normals, name)
    if normals.ndim not in (3, 4) or normals.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3) or (B, H, W, 3), got {describe(normals)}")
    if is_torch(normals):
        ok = normals.dtype.is_floating_point
    else:
        ok = np.issubdtype(normals.dtype, np.floating)
    if not ok:
        raise TypeError(f"{name}: expected float unit vectors, got {describe(normals)}")


def encode_normals(
    normals: Array,
    valid: Array | None = None,
    *,
    invalid_color: tuple[int, int, int] = (0, 0, 0),
) -> Array:
    """Encode unit normals (paper frame) as RGB.

    Args:
        normals: (H, W, 3) or (B, H, W, 3) float, paper frame (+x right, +y up, +z to viewer).
            Non-unit vectors are normalised; zero vectors (norm < 1e-6) count as invalid.
        valid: optional bool mask (H, W) / (B, H, W); False pixels get ``invalid_color``.
            Values at invalid pixels are ignored (NaN allowed there).
        invalid_color: colour for invalid pixels (default black).
    Returns:
        uint8 RGB, shape normals.shape, same kind/device.
    Raises:
        ValueError: NaN/inf at a valid pixel, or a mask of the wrong shape.
    """
    _check_normals(normals)
    inv = as_color(invalid_color, "invalid_color")
    n = to_numpy(normals).astype(np.float64)
    if valid is None:
        v = np.ones(n.shape[:-1], bool)
    else:
        check_array(valid, "valid")
        v = to_numpy(valid)
        if v.dtype != bool:
            raise TypeError(f"valid: expected a boolean mask, got {describe(valid)}")
        if v.shape != n.shape[:-1]:
            raise ValueError(f"valid: expected shape {n.shape[:-1]}, got {v.shape}")
    finite = np.isfinite(n).all(-1)
    if (v & ~finite).any():
        loc = first_location(v & ~finite)
        raise ValueError(
            f"normals: expected finite vectors at valid pixels, got {int((v & ~finite).sum())} "
            f"NaN/inf vector(s), the first at {loc}; pass valid= to mark them invalid"
        )
    n = np.where(v[..., None], n, 0.0)
    norm = np.linalg.norm(n, axis=-1)
    v = v & (norm >= 1e-6)
    n = n / np.maximum(norm, 1e-12)[..., None]
    sign = np.array(COLOR_SIGNS)
    rgb = np.clip(np.rint((1.0 + sign * n) * 0.5 * 255.0), 0, 255).astype(np.uint8)
    rgb[~v] = inv.astype(np.uint8)
    return like(rgb, normals)


def decode_normals(
    rgb: Array,
    *,
    invalid_color: tuple[int, int, int] | None = (0, 0, 0),
    invalid_tol: float = 8.0,
    min_norm: float = 0.1,
) -> tuple[Array, Array]:
    """Decode RGB drawn with the paper's normals code.

    Args:
        rgb: uint8 RGB (H, W, 3) or (B, H, W, 3), numpy or torch.
        invalid_color: colour meaning "no normal" (None: no colour is reserved).
        invalid_tol: pixels within this RGB distance of ``invalid_color`` are invalid.
        min_norm: pixels whose centred vector ``2*rgb/255 - 1`` is shorter than this are invalid.
    Returns:
        (normals float32 (..., H, W, 3) unit vectors in the paper frame, (0, 0, 0) where invalid;
         valid bool (..., H, W)), same kind/device as ``rgb``.
    """
    check_rgb(rgb)
    if not (isinstance(min_norm, (int, float)) and 0 <= min_norm < 1):
        raise ValueError(f"min_norm: expected a number in [0, 1), got {min_norm!r}")
    if not (isinstance(invalid_tol, (int, float)) and invalid_tol >= 0):
        raise ValueError(f"invalid_tol: expected a distance >= 0, got {invalid_tol!r}")
    inv = None if invalid_color is None else as_color(invalid_color, "invalid_color")
    if is_torch(rgb):
        import torch

        x = rgb.to(torch.float32)
        sign = torch.tensor(COLOR_SIGNS, dtype=torch.float32, device=rgb.device)
        c = (x * (2.0 / 255.0) - 1.0) * sign
        norm = torch.linalg.vector_norm(c, dim=-1)
        valid = norm >= min_norm
        if inv is not None:
            dv = x - torch.tensor(inv, dtype=torch.float32, device=rgb.device)
            valid &= (dv * dv).sum(-1) > float(invalid_tol) ** 2
        n = c / norm.clamp(min=1e-12)[..., None]
        n = torch.where(valid[..., None], n, torch.zeros_like(n))
        return n, valid
    x = np.asarray(rgb)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    cr, cg, cb = (_CENTRED[j][ch] for j, ch in enumerate((r, g, b)))  # 256-entry tables per channel
    n2 = cr * cr
    n2 += cg * cg
    n2 += cb * cb
    valid = n2 >= np.float32(min_norm) ** 2
    if inv is not None:
        d2 = _SQ_DIFF[inv[0]][r] + _SQ_DIFF[inv[1]][g] + _SQ_DIFF[inv[2]][b]
        valid &= d2 > float(invalid_tol) ** 2
    scale = np.zeros(n2.shape, np.float32)
    np.divide(1.0, np.sqrt(n2), out=scale, where=valid)
    n = np.empty(x.shape, np.float32)
    np.multiply(cr, scale, out=n[..., 0])
    np.multiply(cg, scale, out=n[..., 1])
    np.multiply(cb, scale, out=n[..., 2])
    return n, valid


def convert_frame(normals: Array, src: str, dst: str) -> Array:
    """Convert normals between camera frames (see :data:`FRAMES`); pure sign flips, invertible.

    Args:
        normals: (..., 3) float vectors in frame ``src`` (numpy or torch).
        src, dst: keys of :data:`FRAMES` ("paper", "opengl", "marigold", "dsine", "opencv").
    Returns:
        the same vectors expressed in frame ``dst``, same kind/device/dtype.
    """
    check_array(normals, "normals")
    if normals.shape[-1:] != (3,):
        raise ValueError(f"normals: expected a last dimension of 3, got {describe(normals)}")
    s = np.array(FRAMES.get(src), np.float64) * np.array(FRAMES.get(dst), np.float64)
    if is_torch(normals):
        import torch

        return normals * torch.tensor(s, dtype=normals.dtype, device=normals.device)
    return normals * s.astype(normals.dtype if np.issubdtype(normals.dtype, np.floating) else np.float64)


__all__ = ["COLOR_SIGNS", "FRAMES", "convert_frame", "decode_normals", "encode_normals"]
