"""Files a prediction is written to, and the pure conversions behind them.

Per prediction (``write_prediction``), with ``STEM`` the input's file name without suffix and
``KIND`` the task's answer kind (:data:`openbanana.tasks.answers.ANSWER_KINDS`: ``depth``,
``normals``, ``labels``, ``instances``, ``masks``):

=========================  ==================================================================
``STEM.generated.png``     the generated RGB image, exactly as the model drew it (8-bit)
``STEM.KIND.npy``          the decoded answer as numpy (float32 metres, float32 unit normals,
                           int32 labels / instance ids, bool masks ``(N, H, W)``)
``STEM.KIND.png``          the answer as a lossless 16-bit PNG (mappings below)
``STEM.vis.png``           a visualisation of the answer (8-bit RGB, for eyes only)
``STEM.overlay.png``       labels, instances or masks in colour over the input image
``STEM.ply``               depth only: a coloured point cloud (normals added when predicted)
``STEM.uncertainty.npy``   ensembles only: float32 ``(H, W)`` per-pixel spread of the members
``STEM.json``              task, instruction, units, the 16-bit mappings, ``classes`` (semantic: label
                           value -> class name, 255 void), the files written
=========================  ==================================================================

16-bit PNG mappings (all invertible; :func:`png16_to_depth` etc. read them back):

- depth: millimetres, ``round(depth_m * 1000)``; 0 = invalid (NaN, <= 0, or ``valid`` False);
  depths beyond 65.534 m saturate at 65535. Resolution 1 mm.
- normals: 3 channels, ``round((n + 1) / 2 * 65535)`` per component of the unit normal in the
  paper's camera frame (+x right, +y up, +z toward the viewer); invalid pixels are (0, 0, 0).
  Note this is *not* the paper's colour code (which flips x); the 16-bit file stores the vector.
- labels: the label value itself (255 = void stays 255); instance ids likewise (0 = background).
- masks: bit ``k`` of the 16-bit value is mask ``k``; masks 16..31 go to ``STEM.masks-1.png``
  and so on, so overlapping masks stay lossless.

Point clouds: a pinhole camera with horizontal field of view ``fov_deg`` (default
:data:`DEFAULT_FOV_DEG`), principal point at the image centre and square pixels; depth is read as
distance along the optical axis. Points are in the paper's camera frame (x right, y up, z toward
the viewer, so visible points have negative z), in metres.
"""

from __future__ import annotations

import colorsys
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw

from openbanana.io.images import save_png
from openbanana.io.png16 import save_png16
from openbanana.tasks import ANSWER_KINDS, answer_kind

#: default horizontal field of view in degrees for point clouds when the user gives none
DEFAULT_FOV_DEG = 60.0
#: depth PNG units per metre (millimetres)
DEPTH_PNG_PER_M = 1000.0
#: points farther than this are left out of point clouds by default (sky decodes to huge depths)
DEFAULT_PLY_MAX_DEPTH_M = 80.0



# ------------------------------------------------------------------------- 16-bit conversions


def depth_to_png16(depth_m: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Depth in metres -> uint16 millimetres (0 = invalid, saturating at 65535).

    Shape: ``(H, W)`` -> ``(H, W)``.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"expected depth of shape (H, W), got {d.shape}")
    ok = np.isfinite(d) & (d > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    mm = np.clip(np.round(np.where(ok, d, 0.0) * DEPTH_PNG_PER_M), 0, 65535).astype(np.uint16)
    mm[ok & (mm == 0)] = 1  # a valid sub-millimetre depth must not read back as invalid
    return mm


def png16_to_depth(mm: np.ndarray) -> np.ndarray:
    """uint16 millimetres -> float32 metres, NaN where the file says invalid (0)."""
    m = np.asarray(mm).astype(np.float32) / np.float32(DEPTH_PNG_PER_M)
    m[np.asarray(mm) == 0] = np.nan
    return m


def normals_to_png16(normals: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Unit normals (paper frame) -> uint16 ``round((n + 1) / 2 * 65535)``; invalid -> 0.

    Shape: ``(H, W, 3)`` -> ``(H, W, 3)``.
    """
    n = np.asarray(normals, dtype=np.float64)
    if n.ndim != 3 or n.shape[2] != 3:
        raise ValueError(f"expected normals of shape (H, W, 3), got {n.shape}")
    ok = np.isfinite(n).all(axis=2)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    q = np.round((np.clip(np.where(ok[..., None], n, -1.0), -1, 1) + 1) / 2 * 65535).astype(np.uint16)
    return q


def png16_to_normals(q: np.ndarray) -> np.ndarray:
    """uint16 normals -> float32 unit vectors; (0, 0, 0) pixels (invalid) -> NaN."""
    q = np.asarray(q)
    n = q.astype(np.float64) / 65535 * 2 - 1
    norm = np.linalg.norm(n, axis=2, keepdims=True)
    out = (n / np.maximum(norm, 1e-12)).astype(np.float32)
    out[(q == 0).all(axis=2)] = np.nan
    return out


def labels_to_png16(labels: np.ndarray) -> np.ndarray:
    """Integer label or instance-id map -> uint16 (values kept as they are; must fit 0..65535)."""
    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(f"expected an integer (H, W) label map, got {lab.dtype} {lab.shape}")
    if lab.size and (lab.min() < 0 or lab.max() > 65535):
        raise ValueError(
            f"label values must lie in [0, 65535] for a 16-bit PNG, got [{lab.min()}, {lab.max()}]"
        )
    return lab.astype(np.uint16)


def masks_to_png16(masks: np.ndarray) -> list[np.ndarray]:
    """Bool masks ``(N, H, W)`` -> ``ceil(N / 16)`` uint16 ``(H, W)`` planes, bit k = mask k."""
    m = np.asarray(masks)
    if m.ndim != 3 or m.dtype != bool:
        raise ValueError(f"expected bool masks of shape (N, H, W), got {m.dtype} {m.shape}")
    planes = []
    for start in range(0, max(len(m), 1), 16):
        plane = np.zeros(m.shape[1:], np.uint16)
        for k, mask in enumerate(m[start : start + 16]):
            plane |= mask.astype(np.uint16) << np.uint16(k)
        planes.append(plane)
    return planes


def png16_to_masks(planes: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Inverse of :func:`masks_to_png16` for ``n`` masks."""
    out = [((planes[k // 16] >> np.uint16(k % 16)) & 1).astype(bool) for k in range(n)]
    shape = planes[0].shape if planes else (0, 0)
    return np.stack(out) if out else np.zeros((0, *shape), bool)


# --------------------------------------------------------------------------- visualisations


def _hues(n: int) -> np.ndarray:
    """``n`` well separated, fixed colours (uint8 ``(n, 3)``): golden-ratio hue steps."""
    cols = [colorsys.hsv_to_rgb((0.11 + k * 0.618033988749895) % 1.0, 0.75, 0.95) for k in range(n)]
    return np.round(np.asarray(cols).reshape(n, 3) * 255).astype(np.uint8)


def depth_limits(depth_m: np.ndarray, valid: np.ndarray | None = None) -> tuple[float, float] | None:
    """The inverse-depth range (1/m) :func:`colorize_depth` spreads over its colour map: the 2nd
    and 98th percentile of the valid pixels, or None when no pixel is valid."""
    d = np.asarray(depth_m, dtype=np.float64)
    ok = np.isfinite(d) & (d > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if not ok.any():
        return None
    lo, hi = np.percentile(1.0 / d[ok], [2, 98])
    return float(lo), float(hi)


def colorize_depth(
    depth_m: np.ndarray,
    valid: np.ndarray | None = None,
    cmap: str = "turbo",
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """Depth -> uint8 RGB for eyes: inverse depth between ``limits`` (default
    :func:`depth_limits` of this map; pass another map's to draw two maps on one scale) through
    ``cmap`` (near = warm); invalid pixels black. Shape ``(H, W)`` -> ``(H, W, 3)``."""
    d = np.asarray(depth_m, dtype=np.float64)
    ok = np.isfinite(d) & (d > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    out = np.zeros((*d.shape, 3), np.uint8)
    limits = limits or depth_limits(d, ok)
    if not ok.any() or limits is None:
        return out
    inv = 1.0 / d[ok]
    lo, hi = limits
    t = np.clip((inv - lo) / max(hi - lo, 1e-12), 0, 1)
    lut = np.round(colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)  # [256, 3]
    out[ok] = lut[np.round(t * 255).astype(np.intp)]
    return out


def colorize_normals(normals: np.ndarray) -> np.ndarray:
    """Normals -> the paper's colour code (R = (1 - x)/2, G = (1 + y)/2, B = (1 + z)/2); NaN black."""
    n = np.asarray(normals, dtype=np.float64)
    rgb = np.stack([(1 - n[..., 0]) / 2, (1 + n[..., 1]) / 2, (1 + n[..., 2]) / 2], axis=-1)
    rgb = np.where(np.isfinite(rgb), rgb, 0.0)
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def palette_from_spec(spec: Mapping[str, Any] | None) -> np.ndarray | None:
    """The label colours a prediction's spec names, as uint8 ``(K, 3)`` indexed by label, or None.

    Accepts ``spec["palette"]`` as a mapping name -> RGB (label k = k-th entry) or a sequence of RGB.
    """
    pal = (spec or {}).get("palette")
    if pal is None:
        return None
    values = list(pal.values()) if isinstance(pal, Mapping) else list(pal)
    try:
        arr = np.asarray([tuple(int(c) for c in v)[:3] for v in values], dtype=np.int64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.min(initial=0) < 0 or arr.max(initial=0) > 255:
        return None
    return arr.astype(np.uint8)


def colorize_labels(labels: np.ndarray, palette: np.ndarray | None = None, void: int = 255) -> np.ndarray:
    """Label map -> uint8 RGB: ``palette[label]`` (fixed hues beyond it); void and negatives black."""
    lab = np.asarray(labels).astype(np.int64)
    top = int(lab.max(initial=0)) + 1
    table = _hues(max(top, 1))
    if palette is not None and len(palette):
        k = min(len(palette), top)
        table[:k] = palette[:k]
    out = table[np.clip(lab, 0, top - 1)]
    out[(lab == void) | (lab < 0)] = 0
    return out


def overlay(
    image: np.ndarray,
    regions: np.ndarray,
    *,
    alpha: float = 0.5,
    colors: np.ndarray | None = None,
    background: int | None = None,
) -> np.ndarray:
    """Colour regions over an image, with a 1-pixel outline in full colour.

    Args:
        image: uint8 ``(H, W, 3)``.
        regions: bool masks ``(N, H, W)`` (mask k in colour k) or an integer map ``(H, W)``
            (each value in its colour; ``background`` and 255 left uncoloured).
        alpha: opacity of the fill in [0, 1].
        colors: uint8 ``(K, 3)`` colours; fixed hues by default.
        background: a label value left uncoloured (e.g. 0 for instance ids).

    Returns:
        uint8 ``(H, W, 3)``.
    """
    img = np.asarray(image, dtype=np.float32)
    r = np.asarray(regions)
    if r.dtype == bool and r.ndim == 3:
        masks = r
    elif r.ndim == 2:
        values = [v for v in np.unique(r) if v != 255 and v != background]
        masks = np.stack([r == v for v in values]) if values else np.zeros((0, *r.shape), bool)
        if colors is not None and values:
            colors = np.asarray(colors)[np.clip(np.asarray(values, dtype=np.int64), 0, len(colors) - 1)]
    else:
        raise ValueError(f"expected bool (N, H, W) masks or an (H, W) map, got {r.dtype} {r.shape}")
    if masks.shape[1:] != img.shape[:2]:
        raise ValueError(f"regions {masks.shape[1:]} and image {img.shape[:2]} differ in size")
    cols = _hues(len(masks)) if colors is None else np.asarray(colors, dtype=np.uint8)
    out = img.copy()
    for m, c in zip(masks, cols, strict=False):
        out[m] = (1 - alpha) * out[m] + alpha * c.astype(np.float32)
        inner = m.copy()
        inner[1:, :] &= m[:-1, :]
        inner[:-1, :] &= m[1:, :]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        out[m & ~inner] = c
    return np.round(out).astype(np.uint8)


def visualize(
    kind: str,
    answer: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    spec: Mapping[str, Any] | None = None,
    image: np.ndarray | None = None,
    depth_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """The ``STEM.vis.png`` view of an answer of ``kind`` (uint8 ``(H, W, 3)``); ``depth_range``:
    the inverse-depth limits of :func:`colorize_depth` (default: the map's own)."""
    if kind == "depth":
        return colorize_depth(answer, valid, limits=depth_range)
    if kind == "normals":
        return colorize_normals(answer)
    if kind == "labels":
        return colorize_labels(answer, palette_from_spec(spec))
    if kind == "instances":
        lab = np.asarray(answer).astype(np.int64)
        vis = colorize_labels(np.where(lab > 0, lab - 1, 255))
        return vis
    if kind == "masks":
        m = np.asarray(answer)
        base = np.zeros((*m.shape[1:], 3), np.uint8) if image is None else image
        return overlay(base, m, alpha=1.0 if image is None else 0.6)
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {ANSWER_KINDS}")


# ------------------------------------------------------------------------------ point clouds


def focal_px(width: int, fov_deg: float) -> float:
    """Focal length in pixels of a pinhole camera ``width`` pixels wide with horizontal FOV ``fov_deg``."""
    if not 0 < fov_deg < 180:
        raise ValueError(f"field of view must lie in (0, 180) degrees, got {fov_deg}")
    return (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)


def depth_to_points(
    depth_m: np.ndarray,
    fov_deg: float = DEFAULT_FOV_DEG,
    *,
    valid: np.ndarray | None = None,
    max_depth_m: float | None = DEFAULT_PLY_MAX_DEPTH_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Lift depth to 3D points in the paper's camera frame (metres).

    Args:
        depth_m: float ``(H, W)`` depth along the optical axis.
        fov_deg: horizontal field of view.
        valid: optional bool ``(H, W)``; pixels False are left out.
        max_depth_m: pixels deeper than this are left out (None keeps every finite depth).

    Returns:
        ``points`` float32 ``(N, 3)`` and ``index`` int64 ``(N,)``, the flat pixel index of each point.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if d.ndim != 2:
        raise ValueError(f"expected depth of shape (H, W), got {d.shape}")
    h, w = d.shape
    f = focal_px(w, fov_deg)
    ok = np.isfinite(d) & (d > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if max_depth_m is not None:
        ok &= d <= max_depth_m
    index = np.flatnonzero(ok)
    v, u = np.divmod(index, w)
    z = d.reshape(-1)[index]
    x = (u + 0.5 - w / 2.0) / f * z
    y = -(v + 0.5 - h / 2.0) / f * z
    return np.stack([x, y, -z], axis=1).astype(np.float32), index


def write_ply(
    path: str | Path,
    points: np.ndarray,
    colors: np.ndarray | None = None,
    normals: np.ndarray | None = None,
    *,
    binary: bool = True,
) -> Path:
    """Write a point cloud as PLY (binary little-endian or ASCII).

    Args:
        points: float ``(N, 3)`` x, y, z.
        colors: optional uint8 ``(N, 3)`` red, green, blue.
        normals: optional float ``(N, 3)`` nx, ny, nz.
        binary: binary_little_endian (default) or ascii.
    """
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    rec = np.empty(len(pts), dtype=fields)
    rec["x"], rec["y"], rec["z"] = pts.T
    if normals is not None:
        nrm = np.asarray(normals, dtype=np.float32).reshape(-1, 3)
        rec["nx"], rec["ny"], rec["nz"] = nrm.T
    if colors is not None:
        col = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
        rec["red"], rec["green"], rec["blue"] = col.T
    ply_types = {"<f4": "float", "u1": "uchar"}
    header = [
        "ply",
        f"format {'binary_little_endian' if binary else 'ascii'} 1.0",
        "comment openbanana point cloud: metres, camera frame x right, y up, z toward viewer",
        f"element vertex {len(rec)}",
    ]
    header += [f"property {ply_types[t]} {name}" for name, t in fields]
    header += ["end_header"]
    path = Path(path)
    with path.open("wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        if binary:
            fh.write(rec.tobytes())
        else:
            fmt = " ".join("%.6g" if t == "<f4" else "%d" for _, t in fields)
            for row in rec:
                fh.write((fmt % tuple(row) + "\n").encode("ascii"))
    return path


# ------------------------------------------------------------------------------- prediction


def _field(pred: Any, name: str, default: Any = None) -> Any:
    if isinstance(pred, Mapping):
        return pred.get(name, default)
    return getattr(pred, name, default)


def write_prediction(
    pred: Any,
    image: np.ndarray | None,
    out_dir: str | Path,
    stem: str,
    *,
    fov_deg: float = DEFAULT_FOV_DEG,
    normals: np.ndarray | None = None,
    ply_binary: bool = True,
    max_depth_m: float | None = DEFAULT_PLY_MAX_DEPTH_M,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write every file of one prediction (see the module docstring for names and mappings).

    Args:
        pred: a pipeline ``Prediction`` (or a mapping with the same fields: ``task``,
            ``instruction``, ``generated``, ``answer``, ``valid``, ``spec``).
        image: the uint8 ``(H, W, 3)`` input, for overlays and point colours (None for text-to-image).
        out_dir: folder to write into (created if missing).
        stem: file name stem, usually the input's name without suffix.
        fov_deg: horizontal field of view of the point cloud's pinhole camera.
        normals: normals predicted for the same image, added to the depth point cloud.
        ply_binary: binary (default) or ASCII PLY.
        max_depth_m: depth cut-off for the point cloud.
        meta: extra JSON-able fields for ``STEM.json``.

    Returns:
        Role -> path of each file written (``generated``, ``npy``, ``png16``, ``vis``, ``overlay``,
        ``ply``, ``uncertainty``, ``json``; ``png16_1``... for more than 16 masks).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    task, answer = _field(pred, "task"), _field(pred, "answer")
    valid, spec = _field(pred, "valid"), _field(pred, "spec") or {}
    kind = answer_kind(task, answer)
    files: dict[str, Path] = {}
    generated = _field(pred, "generated")
    if generated is not None:
        files["generated"] = save_png(out / f"{stem}.generated.png", np.asarray(generated, dtype=np.uint8))
    info: dict[str, Any] = {"task": task, "instruction": _field(pred, "instruction"), "kind": kind}
    classes = label_classes(pred)
    if classes is not None:
        info["classes"] = classes
    if kind is not None:
        a = np.asarray(answer)
        files["npy"] = out / f"{stem}.{kind}.npy"
        np.save(files["npy"], a, allow_pickle=False)
        if kind == "depth":
            files["png16"] = save_png16(out / f"{stem}.depth.png", depth_to_png16(a, valid))
            info["png16"] = "uint16 millimetres, 0 = invalid"
            ok = np.isfinite(a) & (a > 0) if valid is None else np.asarray(valid, bool) & np.isfinite(a)
            if ok.any():
                info["depth_m"] = {
                    k: float(f(a[ok])) for k, f in (("min", np.min), ("median", np.median), ("max", np.max))
                }
        elif kind == "normals":
            files["png16"] = save_png16(out / f"{stem}.normals.png", normals_to_png16(a, valid))
            info["png16"] = "uint16 round((n + 1) / 2 * 65535), camera frame x right, y up, z to viewer"
        elif kind in ("labels", "instances"):
            files["png16"] = save_png16(out / f"{stem}.{kind}.png", labels_to_png16(a))
            info["png16"] = (
                "uint16 label values (255 = void)"
                if kind == "labels"
                else "uint16 instance ids (0 = background)"
            )
        else:
            for k, plane in enumerate(masks_to_png16(a)):
                name = f"{stem}.masks.png" if k == 0 else f"{stem}.masks-{k}.png"
                files["png16" if k == 0 else f"png16_{k}"] = save_png16(out / name, plane)
            info["png16"] = "uint16, bit k = mask k (masks 16k.. in STEM.masks-k.png)"
            info["num_masks"] = len(a)
        files["vis"] = save_png(
            out / f"{stem}.vis.png", visualize(kind, a, valid=valid, spec=spec, image=image)
        )
        if image is not None and kind in ("labels", "instances", "masks"):
            img = np.asarray(image, dtype=np.uint8)
            if kind == "masks":
                ov = overlay(img, a)
            elif kind == "labels":
                ov = overlay(img, a, colors=_label_colors(a, spec))
            else:
                ov = overlay(img, a, background=0)
            files["overlay"] = save_png(out / f"{stem}.overlay.png", ov)
        if kind == "depth":
            pts, index = depth_to_points(a, fov_deg, valid=valid, max_depth_m=max_depth_m)
            cols = None if image is None else np.asarray(image, np.uint8).reshape(-1, 3)[index]
            nrm = None
            if normals is not None and np.asarray(normals).shape[:2] == a.shape:
                nrm = np.nan_to_num(np.asarray(normals, np.float32).reshape(-1, 3)[index])
            files["ply"] = write_ply(out / f"{stem}.ply", pts, cols, nrm, binary=ply_binary)
            info["ply"] = {
                "fov_deg": fov_deg,
                "focal_px": focal_px(a.shape[1], fov_deg),
                "points": len(pts),
                "normals": nrm is not None,
                "max_depth_m": max_depth_m,
            }
    uncertainty = _field(pred, "uncertainty")
    if uncertainty is not None:
        files["uncertainty"] = out / f"{stem}.uncertainty.npy"
        np.save(files["uncertainty"], np.asarray(uncertainty, dtype=np.float32), allow_pickle=False)
        info["ensemble_size"] = _field(pred, "ensemble_size")
    info.update(meta or {})
    info["files"] = {k: p.name for k, p in files.items()}
    files["json"] = out / f"{stem}.json"
    files["json"].write_text(json.dumps(info, indent=2, default=_jsonable) + "\n")
    return files


def label_classes(pred: Any) -> dict[str, str] | None:
    """For a semantic answer, the class each label value stands for: ``{"0": "road", ...,
    "255": "void"}`` (JSON keys), from ``pred.class_names``; None for other answers."""
    names = _field(pred, "class_names")
    if answer_kind(_field(pred, "task"), _field(pred, "answer")) != "labels" or not names:
        return None
    return {**{str(i): str(n) for i, n in enumerate(names)}, "255": "void"}


def _label_colors(labels: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    top = int(np.asarray(labels).max(initial=0)) + 1
    table = _hues(top)
    pal = palette_from_spec(spec)
    if pal is not None:
        table[: min(len(pal), top)] = pal[:top]
    return table


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def make_sheet(panels: Sequence[tuple[str, np.ndarray]], *, height: int = 160, pad: int = 6) -> np.ndarray:
    """Side-by-side panels with titles (for docs and contact sheets): uint8 ``(H', W', 3)``."""
    tiles = []
    for title, rgb in panels:
        im = Image.fromarray(np.asarray(rgb, np.uint8))
        w = max(1, round(im.width * height / im.height))
        im = im.resize((w, height), Image.NEAREST)
        tile = Image.new("RGB", (w, height + 18), (255, 255, 255))
        tile.paste(im, (0, 18))
        ImageDraw.Draw(tile).text((2, 3), title, fill=(0, 0, 0))
        tiles.append(tile)
    total = sum(t.width for t in tiles) + pad * (len(tiles) + 1)
    sheet = Image.new("RGB", (total, height + 18 + 2 * pad), (255, 255, 255))
    x = pad
    for t in tiles:
        sheet.paste(t, (x, pad))
        x += t.width + pad
    return np.asarray(sheet)
