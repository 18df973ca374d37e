"""Semantic segmentation: a palette (class -> colour) named in the instruction <-> a label map.

Spec: ``palette`` = ``{class: (r, g, b)}`` (colours in any notation of
:func:`openbanana.tasks.colors.parse_color`), or ``instruction`` = text that
:func:`~openbanana.tasks.colors.parse_palette` reads; ``max_distance`` and ``black_is_void`` tune
decoding. Labels index the palette in its order; 255 = void (black when black is not a class).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from openbanana.errors import InstructionError
from openbanana.tasks._spec import as_rgb, check_spec, pick
from openbanana.tasks.answers import Answer, AnswerKind
from openbanana.tasks.base import Task, register_task
from openbanana.tasks.codecs.palette import decode_labels, encode_labels
from openbanana.tasks.colors import RGB, parse_palette, render_palette

_TEMPLATES = (
    "Semantic segmentation. Paint every pixel with the colour of its class: {palette}",
    "Segment the image into semantic classes using this palette: {palette}",
    "Colour each pixel by its class. {palette}",
    "Semantic segmentation with these classes and colours: {palette}. Paint everything else black.",
    "Label every pixel with its category. {palette}",
    "{palette}. Produce the semantic segmentation map.",
    "Draw a semantic label map with these colours: {palette}.",
)


def palette_from_spec(spec: Mapping[str, Any]) -> dict[str, RGB]:
    """The palette of a semantic spec: ``palette=`` (a mapping) or ``instruction=`` (text)."""
    if "palette" in spec and "instruction" in spec:
        raise TypeError("semantic: give palette= or instruction=, not both")
    if "palette" in spec:
        palette = spec["palette"]
        if not isinstance(palette, Mapping) or not palette:
            raise ValueError(f"semantic: palette must be a non-empty mapping class -> colour, got {palette!r}")
        out = {str(k): as_rgb(v, f"palette[{k!r}]") for k, v in palette.items()}
        if len(set(out.values())) != len(out):
            seen: dict[RGB, str] = {}
            for k, v in out.items():
                if v in seen:
                    raise ValueError(f"semantic: classes {seen[v]!r} and {k!r} have the same colour {v}")
                seen[v] = k
        return out
    if "instruction" in spec:
        return parse_palette(spec["instruction"])
    raise InstructionError("semantic: needs palette={class: (r, g, b), ...} or instruction='... road: (128, 64, 128) ...'")


@register_task
class SemanticTask(Task):
    """Label map (int, 255 = void) <-> RGB through a palette."""

    name: ClassVar[str] = "semantic"
    description: ClassVar[str] = "semantic segmentation with the class -> colour palette given in the instruction"
    keywords: ClassVar[tuple[str, ...]] = (
        r"\bsemantic\b", r"\bclass(?:es)?\b", r"\bcategor(?:y|ies)\b", r"\blabel map\b", r"\bpalette\b",
        r"(?<!referring )(?<!reasoning )(?<!instance )\bsegmentation\b",
    )
    priority: ClassVar[int] = 40
    answer_kind: ClassVar[AnswerKind] = "labels"
    order: ClassVar[int] = 2
    spec_keys: ClassVar[tuple[str, ...]] = ("palette", "instruction", "max_distance", "black_is_void")

    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        """Args: target: int labels (H, W) or (B, H, W), 0..K-1 in palette order or 255 (void, black).
        Returns uint8 RGB."""
        check_spec(self.name, spec, self.spec_keys)
        colors = np.array(list(palette_from_spec(spec).values()), dtype=np.int32)
        return encode_labels(target, colors)

    def decode(self, rgb: Any, **spec: Any) -> Answer:
        """Returns int64 labels (H, W) / (B, H, W): index into the palette, 255 = void."""
        check_spec(self.name, spec, self.spec_keys)
        colors = np.array(list(palette_from_spec(spec).values()), dtype=np.int32)
        return self.answer(decode_labels(
            rgb, colors, black_is_void=spec.get("black_is_void", True), max_distance=spec.get("max_distance")
        ))

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        check_spec(self.name, spec, self.spec_keys)
        palette = palette_from_spec(spec)
        if rng is None and "instruction" in spec:
            return spec["instruction"]
        return pick(rng, _TEMPLATES).format(palette=render_palette(palette, rng))

    def spec_from_instruction(self, text: str) -> dict[str, Any]:
        return {"palette": parse_palette(text)}

    def spec_complete(self, spec: dict[str, Any]) -> bool:
        """A palette (or the instruction's own text) is all an instruction would say."""
        return "palette" in spec or "instruction" in spec

    def class_names(self, spec: dict[str, Any]) -> list[str] | None:
        """The palette's classes, in label order."""
        palette = spec.get("palette")
        return list(palette) if isinstance(palette, dict) else None

    def encodable(self, target: Any) -> np.ndarray:
        """Void (255) drawn as label 0."""
        gt = np.asarray(target)
        return np.where(gt == 255, 0, gt).astype(np.int64)
