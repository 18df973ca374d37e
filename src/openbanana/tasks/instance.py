"""Instance segmentation: one class per call, every instance its own colour on a background.

Spec: ``background`` (default black, any colour notation), ``category`` (the class named in the
instruction; None means any object), ``seed`` (colour choice when encoding), ``scheme`` (how the
encoder picks each instance's colour: ``rank`` or ``position``, see
:data:`~openbanana.tasks.codecs.instances.INSTANCE_SCHEMES`), ``params``
(:class:`~openbanana.tasks.codecs.instances.InstanceDecoderParams` for decoding).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from openbanana.tasks._spec import as_rgb, check_spec, pick
from openbanana.tasks.answers import Answer, AnswerKind
from openbanana.tasks.base import Task, register_task
from openbanana.tasks.codecs.instances import decode_instances, encode_instances
from openbanana.tasks.colors import extract_background, render_color

_TEMPLATES = (
    "Instance segmentation: paint every {cat} in a different colour{bg}.",
    "Segment each {cat} instance with its own colour{bg}.",
    "Give every {cat} a distinct colour{bg}.",
    "Separate the {cat} instances, one unique colour per instance{bg}.",
    "Colour each individual {cat} differently{bg}.",
)
_BG = (" on a {bg} background", "; background {bg}", ", everything else {bg}")
#: a category name is at most this long: it bounds each regex attempt, so reading an instruction
#: stays linear in its length (an unbounded ``.+?`` after every "every" is quadratic)
_MAX_CATEGORY_CHARS = 80
_CATEGORY_RES = (
    re.compile(
        rf"\b(?:every|each|all)\s+(?:individual\s+|single\s+)?(?P<cat>.{{1,{_MAX_CATEGORY_CHARS}}}?)"
        r"(?:\s+instances?)?\s+"
        r"(?:in\s+a\s+(?:different|distinct|unique)|with\s+its\s+own|a\s+(?:distinct|different|unique)|differently)\b",
        re.IGNORECASE,
    ),
    re.compile(rf"\bthe\s+(?P<cat>.{{1,{_MAX_CATEGORY_CHARS}}}?)\s+instances\b", re.IGNORECASE),
)
_ANY = "object"


@register_task
class InstanceTask(Task):
    """Instance ids (0 = background) <-> RGB with one colour per instance."""

    name: ClassVar[str] = "instance"
    description: ClassVar[str] = "instance segmentation of one class: a distinct colour per instance"
    keywords: ClassVar[tuple[str, ...]] = (
        r"\binstances?\b", r"\b(?:different|distinct|unique|own)\s+colou?rs?\b", r"\bdifferently\b",
    )
    priority: ClassVar[int] = 30
    answer_kind: ClassVar[AnswerKind] = "instances"
    order: ClassVar[int] = 3
    spec_keys: ClassVar[tuple[str, ...]] = ("background", "category", "seed", "scheme", "params")

    def _background(self, spec: dict[str, Any]) -> tuple[int, int, int]:
        check_spec(self.name, spec, self.spec_keys)
        return as_rgb(spec.get("background", (0, 0, 0)), "background")

    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        """Args: target: int ids (H, W) or (B, H, W), 0 = background. Returns uint8 RGB."""
        return encode_instances(target, background=self._background(spec), seed=int(spec.get("seed", 0)),
                                scheme=spec.get("scheme", "rank"))

    def decode(self, rgb: Any, **spec: Any) -> Answer:
        """Returns int32 ids (H, W) / (B, H, W): 0 background, 1..M instances (paper's decoder)."""
        return self.answer(decode_instances(rgb, background=self._background(spec), params=spec.get("params")))

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        bg = self._background(spec)
        cat = spec.get("category") or _ANY
        if rng is None:
            bg_text = _BG[0].format(bg=render_color(bg, None, "name"))
        elif bg == (0, 0, 0) and rng.random() < 0.3:
            bg_text = ""
        else:
            bg_text = pick(rng, _BG).format(bg=render_color(bg, rng))
        return pick(rng, _TEMPLATES).format(cat=cat, bg=bg_text)

    def spec_from_instruction(self, text: str) -> dict[str, Any]:
        bg, rest = extract_background(text)
        category = None
        for regex in _CATEGORY_RES:
            m = regex.search(rest)
            if m:
                category = m.group("cat").strip()
                break
        if category in (_ANY, _ANY + "s"):
            category = None
        return {"background": bg or (0, 0, 0), "category": category}

    def class_names(self, spec: dict[str, Any]) -> list[str] | None:
        """The one class asked for (``category``, or ``class_name`` / ``class``), if named."""
        for key in ("class_name", "category", "class"):
            if isinstance(spec.get(key), str):
                return [spec[key]]
        return None
