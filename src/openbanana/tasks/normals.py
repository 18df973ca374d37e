"""Surface normals in the paper's camera frame (+x right, +y up, +z toward the viewer, x flipped
in the colour code). No spec."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from openbanana.tasks._spec import check_spec, pick
from openbanana.tasks.answers import Answer, AnswerKind
from openbanana.tasks.base import Task, register_task
from openbanana.tasks.codecs.normals import COLOR_SIGNS, decode_normals, encode_normals

#: target pixels within this many 8-bit steps of black in every channel have no normal (the decoder
#: leaves out those within an RGB distance of 8 of black; per channel is the cheaper near-equal rule)
_INVALID_STEPS = 8
_TEMPLATES = (
    "Estimate the surface normals of this image.",
    "Predict the surface normal of every pixel.",
    "Draw the normal map of this scene.",
    "Surface normal estimation.",
    "Which way does each surface face? Render the surface normals.",
    "Paint the surface orientation of every pixel as a normal map.",
    "Give me the normals of this picture.",
    "normals",
)


@register_task
class NormalsTask(Task):
    """Unit surface normals <-> RGB."""

    name: ClassVar[str] = "normals"
    description: ClassVar[str] = "unit surface normals in the camera frame (+x right, +y up, +z to viewer)"
    keywords: ClassVar[tuple[str, ...]] = (r"\bnormals?\b", r"\bsurface orientation\b")
    priority: ClassVar[int] = 10
    answer_kind: ClassVar[AnswerKind] = "normals"
    order: ClassVar[int] = 1
    mirrorable: ClassVar[bool] = True

    def encode(self, target: Any, valid: Any = None, **spec: Any) -> np.ndarray:
        """Args: target: normals (H, W, 3) or (B, H, W, 3), paper frame; valid: optional bool mask.
        Returns uint8 RGB; invalid pixels black."""
        check_spec(self.name, spec, ())
        return encode_normals(target, valid)

    def decode(self, rgb: Any, **spec: Any) -> Answer:
        """Returns normals float32 (..., H, W, 3) unit vectors, valid bool (..., H, W) (not black)."""
        check_spec(self.name, spec, ())
        normals, valid = decode_normals(rgb)
        return self.answer(normals, valid)

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        check_spec(self.name, spec, ())
        return pick(rng, _TEMPLATES)

    def unmirror(self, rgb: np.ndarray, **spec: Any) -> np.ndarray:
        """Mirrored back, and every normal's x turned (a mirror sends x to -x): red, which draws
        ``(1 - x) / 2``, becomes ``255 - red``."""
        out = super().unmirror(rgb, **spec).copy()
        out[..., 0] = 255 - out[..., 0]
        return out

    def answer_loss(self, pred: Any, target: Any, **spec: Any) -> tuple[Any, Any]:
        """The angle (radians) between the normals the two images draw, per pixel: the metric's
        own unit (mean angle), where the squared error in colour space also counts the length of
        a vector the decoder normalises away. Black target pixels (no normal) are left out."""
        check_spec(self.name, spec, ())
        import torch

        sign = torch.tensor(COLOR_SIGNS, dtype=torch.float32, device=pred.device).view(1, 3, 1, 1)
        p = torch.nn.functional.normalize(pred.float() * sign, dim=1, eps=1e-6)  # [N, 3, H, W]
        t = torch.nn.functional.normalize(target.float() * sign, dim=1, eps=1e-6)
        cos = (p * t).sum(1).clamp(-1.0 + 1e-6, 1.0 - 1e-6)  # [N, H, W]
        valid = ((target.float() + 1.0) * 127.5 > _INVALID_STEPS).any(1)
        return torch.acos(cos), valid

    def encodable(self, target: Any) -> np.ndarray:
        """Pixels without a finite, non-zero normal drawn as facing the camera (0, 0, 1)."""
        gt = np.asarray(target)
        bad = ~np.isfinite(gt).all(-1) | (np.linalg.norm(np.nan_to_num(gt), axis=-1) < 1e-6)
        return np.where(bad[..., None], np.array([0, 0, 1], np.float32), gt).astype(np.float32)
