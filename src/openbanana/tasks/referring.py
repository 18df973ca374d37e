"""Referring and reasoning segmentation: each referred object painted in its own colour on a
background <-> one boolean mask per target.

Two registered tasks share the mask codec (:mod:`openbanana.tasks.codecs.mask`):

- ``referring``: the instruction names the objects ("highlight the man in the red shirt in blue").
- ``reasoning``: the instruction asks a question whose answer is the object ("what would you use
  to cut the bread?"); its templates quote the query. (The paper first rewrites a reasoning query
  into a referring expression with an MLLM; here the generator is asked directly.)

Spec: ``colors`` = one colour per target (default ``[(255, 0, 0)]``), ``background`` (default
black), ``expressions`` = the referring expressions or queries (only the instruction needs them),
``max_distance`` (decoding: pixels farther than this from every target colour are background).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from openbanana.errors import InstructionError, quoted
from openbanana.tasks._spec import as_rgb, as_rgb_list, check_spec, pick
from openbanana.tasks.answers import Answer, AnswerKind
from openbanana.tasks.base import Task, register_task
from openbanana.tasks.codecs.mask import decode_masks, encode_masks
from openbanana.tasks.colors import extract_background, find_colors, parse_palette, render_color

RED = (255, 0, 0)
_LEADS = ("Highlight", "Segment", "Paint", "Mark", "Referring segmentation:", "Mask")
_TARGETS = ('"{e}" in {c}', "{e} in {c}", "the {e} in {c}", '"{e}" with {c}')
_TARGET_JOINERS = (" and ", ", ", "; ")
_BG = (" on a {bg} background", ", everything else {bg}", "; background {bg}")
_SINGLE = ('Use {c} to highlight "{e}"{bg}.', 'Segment "{e}" and paint it {c}{bg}.')


class _MaskTask(Task):
    """Shared spec handling and codec binding of the referring and reasoning tasks."""

    spec_keys: ClassVar[tuple[str, ...]] = ("colors", "background", "expressions", "max_distance")
    answer_kind: ClassVar[AnswerKind] = "masks"
    needs_instruction: ClassVar[bool] = True

    def _spec(self, spec: dict[str, Any]) -> tuple[list[tuple[int, int, int]], tuple[int, int, int]]:
        check_spec(self.name, spec, self.spec_keys)
        colors = as_rgb_list(spec.get("colors", [RED]), "colors")
        background = as_rgb(spec.get("background", (0, 0, 0)), "background")
        return colors, background

    def _expressions(self, spec: dict[str, Any], n: int) -> list[str]:
        exprs = spec.get("expressions")
        if isinstance(exprs, str):
            exprs = [exprs]
        if not exprs or not all(isinstance(e, str) and e.strip() for e in exprs):
            raise InstructionError(f"{self.name}: instruction() needs expressions=[str, ...], got {exprs!r}")
        if len(exprs) != n:
            raise ValueError(f"{self.name}: {len(exprs)} expression(s) but {n} colour(s); give one colour each")
        return list(exprs)

    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        """Args: target: bool masks (N, H, W) (or one (H, W) mask, or batched (B, N, H, W)), one per
        colour. Returns uint8 RGB; the last mask wins where masks overlap."""
        colors, background = self._spec(spec)
        if getattr(target, "ndim", None) == 2:
            target = target[None]
        return encode_masks(target, np.array(colors), background=background)

    def decode(self, rgb: Any, **spec: Any) -> Answer:
        """Returns bool masks (N, H, W) / (B, N, H, W), one per colour, by nearest colour."""
        colors, background = self._spec(spec)
        masks = decode_masks(rgb, np.array(colors), background=background, max_distance=spec.get("max_distance"))
        return self.answer(masks)

    @staticmethod
    def _bg_text(rng: np.random.Generator | None, bg: tuple[int, int, int]) -> str:
        if rng is None:
            return _BG[0].format(bg=render_color(bg, None, "name"))
        return pick(rng, _BG).format(bg=render_color(bg, rng))


@register_task
class ReferringTask(_MaskTask):
    """Referring segmentation: named objects -> one colour each."""

    name: ClassVar[str] = "referring"
    description: ClassVar[str] = "referring segmentation: each referred object in its own colour"
    keywords: ClassVar[tuple[str, ...]] = (
        r"\b(?:highlight|segment|mask|select|outline|isolate|referr?ing|refer)\b",
        r"\b(?:paint|colou?r|mark|fill)\s+(?:only\s+)?(?:the|all|every)\b",
        # "Paint <expression> in red", but not "paint a picture of a red car" (text-to-image)
        (r"^\s*(?:please\s+)?(?:paint|colou?r|mark|fill)\b"
        r"(?!.*\b(?:image|picture|photo|photograph|painting|illustration|drawing|portrait|poster)\s+of\b)"),
    )
    priority: ClassVar[int] = 60
    order: ClassVar[int] = 4
    instruction_hint: ClassVar[str] = 'naming what to highlight, e.g. "highlight the red car"'

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        colors, bg = self._spec(spec)
        exprs = self._expressions(spec, len(colors))
        bg_text = self._bg_text(rng, bg)
        if rng is None:
            targets = " and ".join(f'"{e}" in {render_color(c, None, "name")}' for e, c in zip(exprs, colors))
            return f"Highlight {targets}{bg_text}."
        if len(exprs) == 1 and rng.random() < 0.25:
            return pick(rng, _SINGLE).format(e=exprs[0], c=render_color(colors[0], rng), bg=bg_text)
        phrases = [pick(rng, _TARGETS).format(e=e, c=render_color(c, rng)) for e, c in zip(exprs, colors)]
        return f"{pick(rng, _LEADS)} {pick(rng, _TARGET_JOINERS).join(phrases)}{bg_text}."

    def spec_from_instruction(self, text: str) -> dict[str, Any]:
        bg, rest = extract_background(text)
        try:
            palette = parse_palette(rest)
        except InstructionError as err:
            if "unknown colour" in str(err) or "same colour" in str(err) or "two colours" in str(err):
                raise
            # "Highlight the bus. Use cyan." / "segment the dog": the target in one sentence, its
            # colour (at most one) in another or not named (then the default red)
            sentences = [t for t in re.split(r"(?<=[.;!])\s+", rest) if t.strip()]
            colors = {c.rgb for t in sentences for c in find_colors(t)}
            target = " ".join(t for t in sentences if not find_colors(t))
            expr = re.sub(r"^\s*(?:please\s+)?(?:highlight|segment|mask|select|outline|isolate)\s+(?:the\s+)?",
                          "", target, flags=re.IGNORECASE).strip(" .;!\"'")
            if not expr or len(colors) > 1:
                raise
            palette = {expr: colors.pop() if colors else RED}
        return {"colors": list(palette.values()), "background": bg or (0, 0, 0), "expressions": list(palette)}


_QUERY_TEMPLATES = (
    'Reasoning segmentation. Query: "{q}" Paint the answer in {c}{bg}.',
    'Question: "{q}" Highlight the answer in {c}{bg}.',
    'Think about "{q}" and paint the region that answers it in {c}{bg}.',
    'Answer this question by marking the answer with {c}{bg}: "{q}"',
    'Find what this question refers to and paint it {c}{bg}. "{q}"',
)
_QUOTED = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d')


@register_task
class ReasoningTask(_MaskTask):
    """Reasoning segmentation: the object answering a query -> one colour (shares the mask codec)."""

    name: ClassVar[str] = "reasoning"
    description: ClassVar[str] = "reasoning segmentation: paint the object that answers a question"
    keywords: ClassVar[tuple[str, ...]] = (r"\breason", r"\bquestion\b", r"\banswers?\b", r"\bquery\b", r"\?")
    priority: ClassVar[int] = 50
    order: ClassVar[int] = 5
    instruction_hint: ClassVar[str] = 'asking the question to answer, e.g. "what would you use to cut the bread?"'

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        colors, bg = self._spec(spec)
        exprs = self._expressions(spec, len(colors))
        if len(exprs) != 1:
            raise ValueError(f"reasoning: one query per instruction, got {len(exprs)}")
        color = render_color(colors[0], None, "name") if rng is None else render_color(colors[0], rng)
        return pick(rng, _QUERY_TEMPLATES).format(q=exprs[0], c=color, bg=self._bg_text(rng, bg))

    def spec_from_instruction(self, text: str) -> dict[str, Any]:
        m = _QUOTED.search(text)
        if m:
            query = (m.group(1) or m.group(2)).strip()
            rest = text[: m.start()] + " " + text[m.end() :]
        elif "?" in text:
            head, _, rest = text.rpartition("?")
            query = re.sub(r"^\s*(?:question|query)\s*:\s*", "", head, flags=re.IGNORECASE).strip() + "?"
        else:
            raise InstructionError(
                f"reasoning: could not find the question in {quoted(text)}; quote it or end it with '?'"
            )
        bg, rest = extract_background(rest)
        colors = find_colors(rest)
        color = colors[0].rgb if colors else RED
        return {"colors": [color], "background": bg or (0, 0, 0), "expressions": [query]}
