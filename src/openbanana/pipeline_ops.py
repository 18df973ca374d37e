"""Pure array operations of the inference pipeline: resizing in and out, and ensemble combination.

Nothing here touches files, models or devices; :mod:`openbanana.pipeline` orchestrates.

Resizing (``resize_mode``):

- ``"stretch"`` (default): the whole image is resized to the model's square resolution (aspect
  ratio not kept). The model never sees borders it was not trained on; it never receives camera
  intrinsics either, so the anisotropic stretch only changes the apparent field of view. Answers are
  resized back over the whole frame.
- ``"letterbox"``: the longer side is scaled to the model resolution and the shorter side is padded
  symmetrically by repeating the edge pixels (no black bars, which the model would read as content).
  Answers are cropped to the content box, then resized back.

Answers come back at the input's size: continuous maps (depth, normals, uncertainty) bilinearly,
with invalid pixels excluded by normalised interpolation; normals renormalised to unit length;
label maps, instance ids and masks by nearest neighbour (never a blend of two labels).

Ensembles: K decoded answers are combined per pixel (median for scalar maps such as depth,
renormalised mean for unit vectors, majority vote for labels and masks; instance ids, which are
arbitrary per sample, take the member whose foreground agrees best with the others) and give a
per-pixel uncertainty map; see :func:`combine_answers` for its definition per kind.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from openbanana.batch import images_to_unit, unit_to_images
from openbanana.tasks.answers import ANSWER_KINDS, AnswerKind

__all__ = [
    "ANSWER_KINDS",
    "RESIZE_MODES",
    "Placement",
    "ResizeMode",
    "combine_answers",
    "from_model_tensor",
    "resize_answer",
    "resize_image_back",
    "resize_scalar_map",
    "to_model_frame",
    "to_model_tensor",
]

ResizeMode = Literal["stretch", "letterbox"]
RESIZE_MODES = ("stretch", "letterbox")


@dataclass(frozen=True)
class Placement:
    """Where an input image sits inside the model's square frame.

    Attributes:
        in_hw: (height, width) of the input image in pixels.
        size: side of the model frame in pixels.
        box: (top, left, height, width) of the image content inside the model frame.
    """

    in_hw: tuple[int, int]
    size: int
    box: tuple[int, int, int, int]


# ---------------------------------------------------------------------------- in
def to_model_frame(rgb: np.ndarray, size: int, mode: ResizeMode = "stretch") -> tuple[np.ndarray, Placement]:
    """Resize a uint8 image to the model's square frame.

    Args:
        rgb: uint8 ``(H, W, 3)`` image, any H, W >= 1.
        size: model resolution in pixels (square).
        mode: ``"stretch"`` or ``"letterbox"`` (see the module docstring).

    Returns:
        framed: uint8 ``(size, size, 3)``.
        placement: where the content lies, for :func:`from_model_frame`.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {mode!r}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    H, W = rgb.shape[:2]
    if mode == "stretch":
        h, w, top, left = size, size, 0, 0
    else:
        scale = size / max(H, W)
        h, w = max(1, round(H * scale)), max(1, round(W * scale))
        top, left = (size - h) // 2, (size - w) // 2
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()  # [1, 3, H, W]
    if (h, w) != (H, W):
        antialias = h < H or w < W
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)
    if (h, w) != (size, size):
        x = F.pad(x, (left, size - w - left, top, size - h - top), mode="replicate")
    framed = x[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()  # [size, size, 3]
    return np.ascontiguousarray(framed), Placement((H, W), size, (top, left, h, w))


#: uint8 ``(S, S, 3)`` frames -> float32 ``[B, 3, S, S]`` in [-1, 1] (:func:`openbanana.batch.images_to_unit`)
to_model_tensor = images_to_unit
#: float ``[B, 3, S, S]`` in [-1, 1] -> uint8 ``(B, S, S, 3)``, rounded and clipped
#: (:func:`openbanana.batch.unit_to_images`)
from_model_tensor = unit_to_images


# ---------------------------------------------------------------------------- out
def _crop(x: np.ndarray, placement: Placement, spatial_axis: int) -> np.ndarray:
    top, left, h, w = placement.box
    idx: list[Any] = [slice(None)] * x.ndim
    idx[spatial_axis] = slice(top, top + h)
    idx[spatial_axis + 1] = slice(left, left + w)
    return x[tuple(idx)]


def _linear(x: np.ndarray, valid: np.ndarray | None, out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised bilinear resize of ``(H, W, C)`` float data; pixels with ``valid`` False (or a
    non-finite value) do not contribute. Returns the resized data and its validity (weight > 0.5)."""
    finite = np.isfinite(x).all(axis=-1)
    ok = finite if valid is None else (finite & valid)
    data = torch.from_numpy(np.where(ok[..., None], x, 0.0).astype(np.float32)).permute(2, 0, 1)[None]
    weight = torch.from_numpy(ok.astype(np.float32))[None, None]
    if tuple(x.shape[:2]) != tuple(out_hw):
        antialias = out_hw[0] < x.shape[0] or out_hw[1] < x.shape[1]
        data = F.interpolate(data * weight, size=out_hw, mode="bilinear", align_corners=False, antialias=antialias)
        weight = F.interpolate(weight, size=out_hw, mode="bilinear", align_corners=False, antialias=antialias)
        data = data / weight.clamp_min(1e-6)
    out = data[0].permute(1, 2, 0).numpy()
    out_valid = weight[0, 0].numpy() > 0.5
    return out, out_valid


def _nearest(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of ``(H, W, ...)`` data of any dtype (by index lookup)."""
    H, W = x.shape[:2]
    rows = np.minimum(((np.arange(out_hw[0]) + 0.5) * H / out_hw[0]).astype(np.int64), H - 1)
    cols = np.minimum(((np.arange(out_hw[1]) + 0.5) * W / out_hw[1]).astype(np.int64), W - 1)
    return np.ascontiguousarray(x[rows][:, cols])


def resize_scalar_map(
    x: np.ndarray, placement: Placement, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A continuous float ``(S, S)`` map (depth, an uncertainty) from the model frame to the
    input's size by normalised bilinear interpolation.

    Returns:
        (float32 map at ``placement.in_hw``, NaN where invalid; bool validity at that size).
    """
    v = None if valid is None else _crop(np.asarray(valid, bool), placement, 0)
    data = _crop(np.asarray(x, np.float32), placement, 0)[..., None]
    out, ok = _linear(data, v, placement.in_hw)
    return np.where(ok, out[..., 0], np.nan).astype(np.float32), ok


def resize_answer(
    answer: np.ndarray,
    kind: AnswerKind,
    placement: Placement,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Bring a decoded answer from the model frame back to the input's size.

    Args:
        answer: at model resolution S: ``depth`` float ``(S, S)``; ``normals`` float ``(S, S, 3)``;
            ``labels`` / ``instances`` int ``(S, S)``; ``masks`` bool ``(N, S, S)``.
        kind: one of :data:`~openbanana.tasks.answers.ANSWER_KINDS`.
        placement: from :func:`to_model_frame`.
        valid: bool ``(S, S)`` or None; invalid pixels do not leak into their neighbours.

    Returns:
        (answer at ``placement.in_hw``, valid at ``placement.in_hw`` or None). Depth and normals
        keep their dtype (float32); invalid pixels of a depth map are NaN; normals are unit length
        where valid, zero where invalid.
    """
    out_hw = placement.in_hw
    if kind == "masks":
        m = _crop(np.asarray(answer, bool), placement, 1)
        return _nearest(np.moveaxis(m, 0, -1), out_hw).transpose(2, 0, 1).copy(), None
    if kind in ("labels", "instances"):
        lab = _nearest(_crop(np.asarray(answer), placement, 0), out_hw)
        return lab.astype(np.int32, copy=False), None
    if kind == "depth":
        return resize_scalar_map(answer, placement, valid)
    if kind == "normals":
        v = None if valid is None else _crop(np.asarray(valid, bool), placement, 0)
        x = _crop(np.asarray(answer, np.float32), placement, 0)
        out, ok = _linear(x, v, out_hw)
        norm = np.linalg.norm(out, axis=-1, keepdims=True)
        ok = ok & (norm[..., 0] > 1e-6)
        out = np.where(ok[..., None], out / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
        return out, ok
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {ANSWER_KINDS}")


def resize_image_back(rgb: np.ndarray, placement: Placement) -> np.ndarray:
    """The generated uint8 ``(S, S, 3)`` image, cropped to the content and resized to the input size
    (bilinear; a picture for people, never decoded)."""
    x = _crop(rgb, placement, 0).astype(np.float32)
    out, _ = _linear(x, None, placement.in_hw)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- ensembles
def combine_answers(
    answers: list[np.ndarray],
    kind: AnswerKind,
    valids: list[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Combine K decoded answers (same shape) into one, with a per-pixel uncertainty.

    Args:
        answers: K answers of one kind (see :func:`resize_answer` for shapes).
        kind: the kind.
        valids: K bool ``(H, W)`` validity maps or None.

    Returns:
        combined: same shape and dtype as one answer.
        valid: bool ``(H, W)`` (pixels valid in a majority of members) or None.
        uncertainty: float32 ``(H, W)`` or None when K = 1:

        - ``depth``: median absolute deviation over the members divided by the median,
          a relative spread (unitless, >= 0; 0.1 means members typically differ by 10%);
        - ``normals``: mean angle in degrees between the members and the combined vector
          (0-180);
        - ``labels``: share of members that disagree with the majority label (0 to 1 - 1/K);
        - ``masks``: for each pixel the largest, over the N masks, share of members disagreeing
          with the majority (0-0.5);
        - ``instances``: share of members disagreeing with the chosen member on
          foreground/background (0-1).
    """
    K = len(answers)
    if K == 0:
        raise ValueError("combine_answers needs at least one answer")
    shapes = {np.shape(a) for a in answers}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members must share one shape, got {sorted(shapes)}")
    has_valid = valids is not None and all(v is not None for v in valids)
    if K == 1:
        return answers[0], (valids[0] if has_valid else None), None
    stack = np.stack(answers)
    vstack = np.stack(valids).astype(bool) if has_valid else None
    valid = (vstack.mean(0) > 0.5) if vstack is not None else None

    if kind == "depth":
        data = stack.astype(np.float64)
        if vstack is not None:
            data = np.where(vstack, data, np.nan)
        data = np.where(np.isfinite(data), data, np.nan)
        with np.errstate(all="ignore"), _quiet_nan():
            med = np.nanmedian(data, axis=0)
            mad = np.nanmedian(np.abs(data - med[None]), axis=0)
            unc = mad / np.maximum(np.abs(med), 1e-6)
        unc = np.where(np.isfinite(unc), unc, 0.0)
        return med.astype(np.float32), valid, unc.astype(np.float32)
    if kind == "normals":
        data = stack.astype(np.float64)
        w = vstack[..., None] if vstack is not None else np.ones(stack.shape[:-1] + (1,), bool)
        mean = (data * w).sum(0)
        norm = np.linalg.norm(mean, axis=-1, keepdims=True)
        comb = mean / np.maximum(norm, 1e-9)
        unit = data / np.maximum(np.linalg.norm(data, axis=-1, keepdims=True), 1e-9)
        cos = np.clip((unit * comb[None]).sum(-1), -1.0, 1.0)
        ang = np.degrees(np.arccos(cos))  # [K, H, W]
        ang = np.where(w[..., 0], ang, np.nan)
        with np.errstate(all="ignore"), _quiet_nan():
            unc = np.nanmean(ang, axis=0)
        comb = np.where(norm > 1e-9, comb, 0.0)
        return comb.astype(np.float32), valid, np.nan_to_num(unc).astype(np.float32)
    if kind == "labels":
        t = torch.from_numpy(stack.astype(np.int64))
        mode = torch.mode(t, dim=0).values  # ties: the smallest label
        unc = (t != mode[None]).float().mean(0)
        return mode.numpy().astype(stack.dtype), valid, unc.numpy()
    if kind == "masks":
        share = stack.astype(np.float32).mean(0)  # [N, H, W]
        comb = share > 0.5
        unc = np.minimum(share, 1.0 - share).max(axis=0) if share.shape[0] else np.zeros(share.shape[1:], np.float32)
        return comb, valid, unc.astype(np.float32)
    if kind == "instances":
        fg = stack > 0  # [K, H, W]
        inter = (fg[:, None] & fg[None]).reshape(K, K, -1).sum(-1)
        union = (fg[:, None] | fg[None]).reshape(K, K, -1).sum(-1)
        iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        best = int(np.argmax(iou.sum(1)))  # the medoid member
        unc = (fg != fg[best][None]).mean(0)
        return stack[best], valid, unc.astype(np.float32)
    raise ValueError(f"unknown answer kind {kind!r}; expected one of {ANSWER_KINDS}")


class _quiet_nan:
    """Silence numpy's all-NaN-slice RuntimeWarning inside a block (all-invalid pixels are expected)."""

    def __enter__(self) -> None:
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)
