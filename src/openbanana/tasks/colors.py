"""Colours in instructions: names, hex, tuples, JSON <-> RGB; palettes <-> instruction text.

The paper writes a class -> colour mapping in any notation: a JSON mapping, sentences ("the plates
are represented by (255,192,128)"), colour names ("light purple"), hex (``#80C000``) and tuples
(``<255,165,0>``). :func:`parse_palette` reads all of them, mixed in one text;
:func:`render_palette` writes a palette back as varied text for training, and
``parse_palette(render_palette(p, rng)) == p`` for every notation. See ``docs/instructions.md``.

Colour names and their modifier rules are documented in :mod:`openbanana.tasks.color_names`.
"""

from __future__ import annotations

import difflib
import json
import re
import reprlib
from collections.abc import Mapping, Sequence

import numpy as np

from openbanana.errors import InstructionError
from openbanana.errors import quoted as quote_text
from openbanana.tasks.color_names import CSS_COLORS, EXTRA_COLORS, MODIFIERS, NAME_PARTS

RGB = tuple[int, int, int]

__all__ = [
    "NOTATIONS",
    "color_name",
    "extract_background",
    "find_colors",
    "parse_color",
    "parse_palette",
    "render_color",
    "render_palette",
    "resolve_name",
]

# ----------------------------------------------------------------------------------------------
# single colours
# ----------------------------------------------------------------------------------------------

_NUM = r"\s*(\d+)\s*"
_HEX_RE = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})(?![0-9a-zA-Z])")
_BAD_HEX_RE = re.compile(r"#[0-9a-fA-F]{1,8}(?![0-9a-zA-Z])")
_TRIPLE_RE = re.compile(
    rf"(?:\brgb\s*\(|[(\[<]){_NUM},{_NUM},{_NUM}[)\]>]", re.IGNORECASE
)
_BARE_TRIPLE_RE = re.compile(rf"^{_NUM}[,\s]{_NUM}[,\s]{_NUM}$")

_ALL_NAMES: dict[str, RGB] = {**EXTRA_COLORS, **CSS_COLORS}
_VOCAB = sorted(set(_ALL_NAMES) | set(MODIFIERS) | NAME_PARTS, key=len, reverse=True)
_WORD = "(?:" + "|".join(_VOCAB) + ")"
_NAME_RE = re.compile(rf"\b{_WORD}(?:[ \t-]+{_WORD})*\b", re.IGNORECASE)


#: the most words one colour name may have (``"very pale bluish light goldenrod yellow"`` has 6):
#: a longer run of colour words is several names, and resolving is linear in the text's length
MAX_NAME_WORDS = 8


def resolve_name(name: str) -> RGB | None:
    """The RGB of a colour name with optional modifiers, or None if it is not one.

    Args:
        name: e.g. ``"red"``, ``"light blue"``, ``"Light-Blue"``, ``"pale bluish green"``; at most
            :data:`MAX_NAME_WORDS` words.

    Returns:
        ``(r, g, b)`` ints in 0..255, or None.
    """
    words = [w for w in re.split(r"[\s\-_]+", name.strip().lower()) if w]
    return _resolve_words(words) if 0 < len(words) <= MAX_NAME_WORDS else None


def _resolve_words(words: list[str]) -> RGB | None:
    joined = "".join(words)
    if joined in _ALL_NAMES:
        return _ALL_NAMES[joined]
    if len(words) == 1:
        return None
    rest = _resolve_words(words[1:])
    if rest is None:
        return None
    if words[0] in MODIFIERS:
        return MODIFIERS[words[0]](rest)
    first = _ALL_NAMES.get(words[0])
    if first is None:
        return None
    return tuple((a + b + 1) // 2 for a, b in zip(first, rest))  # type: ignore[return-value]


def _channels(digits: Sequence[str]) -> list[int]:
    """Channel values from digit strings; anything over 3 significant digits reads as 256 (out of
    range either way), so a 5000-digit number is refused as such, not by int()'s digit limit."""
    return [int(d) if len(d.lstrip("0")) <= 3 else 256 for d in digits]


def _check_range(values: Sequence[int], text: str) -> RGB:
    if any(v > 255 for v in values):
        raise InstructionError(f"colour {text!r} has a channel above 255; expected integers in 0..255")
    return (int(values[0]), int(values[1]), int(values[2]))


def _hex_to_rgb(digits: str) -> RGB:
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _suggest(word: str) -> str:
    spaced = sorted(_ALL_NAMES) + [n.replace("light", "light ") for n in _ALL_NAMES if n.startswith("light")]
    close = difflib.get_close_matches(word.lower().replace(" ", ""), spaced, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def parse_color(text: str | Sequence[int]) -> RGB:
    """Parse one colour.

    Accepts a colour name with modifiers (``"light blue"``), hex (``#RGB``, ``#RRGGBB``), a triple
    ``(r, g, b)``, ``<r, g, b>``, ``[r, g, b]``, ``rgb(r, g, b)`` or ``r, g, b``, or a sequence of
    three ints.

    Args:
        text: the colour.

    Returns:
        ``(r, g, b)`` ints in 0..255.

    Raises:
        InstructionError: unknown colour name (with close names suggested), a channel out of 0..255,
            or text that is no colour notation.
    """
    if not isinstance(text, str):
        if isinstance(text, Sequence | np.ndarray) and len(text) == 3:
            try:
                values = [int(v) for v in text]
            except (TypeError, ValueError, OverflowError):  # None, "x", NaN, inf
                values = []
            if values and all(float(v) == int(v) and 0 <= int(v) <= 255 for v in text):
                return _check_range(values, str(text))
        raise InstructionError(f"expected a colour as text or 3 ints in 0..255, got {text!r}")
    s = text.strip()
    if m := _HEX_RE.fullmatch(s):
        return _hex_to_rgb(m.group(1))
    if s.startswith("#"):
        raise InstructionError(f"bad hex colour {text!r}; expected #RGB or #RRGGBB")
    if (m := _TRIPLE_RE.fullmatch(s)) or (m := _BARE_TRIPLE_RE.fullmatch(s)):
        return _check_range(_channels(m.groups()), text)
    rgb = resolve_name(s)
    if rgb is not None:
        return rgb
    if re.fullmatch(r"[A-Za-z][A-Za-z \-_]*", s):
        raise InstructionError(f"unknown colour name {s!r}{_suggest(s)}")
    raise InstructionError(
        f"could not read a colour from {text!r}; expected a name ('light blue'), hex ('#4682B4') or "
        "a triple ('(128, 64, 128)', '<255, 165, 0>', '[0,0,255]', 'rgb(1, 2, 3)')"
    )


class _Span:
    """One colour mention in a text: where it is, its RGB and whether it was written in numbers."""

    __slots__ = ("end", "numeric", "rgb", "start", "text")

    def __init__(self, start: int, end: int, rgb: RGB, numeric: bool, text: str) -> None:
        self.start, self.end, self.rgb, self.numeric, self.text = start, end, rgb, numeric, text


def find_colors(text: str) -> list[_Span]:
    """Every colour mention in ``text`` (hex, triples, names), in order of position.

    Each item has ``start``, ``end``, ``rgb``, ``numeric`` (hex or triple) and ``text``.

    Raises:
        InstructionError: a hex or triple with a channel out of range or a malformed hex.
    """
    spans: list[_Span] = []
    taken = np.zeros(len(text) + 1, dtype=bool)
    for m in _TRIPLE_RE.finditer(text):
        rgb = _check_range(_channels(m.groups()), m.group(0))
        spans.append(_Span(m.start(), m.end(), rgb, True, m.group(0)))
        taken[m.start() : m.end()] = True
    for m in _BAD_HEX_RE.finditer(text):
        if taken[m.start()]:
            continue
        if not _HEX_RE.fullmatch(m.group(0)):
            raise InstructionError(f"bad hex colour {m.group(0)!r}; expected #RGB or #RRGGBB")
        spans.append(_Span(m.start(), m.end(), _hex_to_rgb(m.group(0)[1:]), True, m.group(0)))
        taken[m.start() : m.end()] = True
    for m in _NAME_RE.finditer(text):
        if taken[m.start() : m.end()].any():
            continue
        spans.extend(_names_in_run(text, m.start(), m.group(0)))
    return sorted(spans, key=lambda s: s.start)


def _names_in_run(text: str, offset: int, run: str) -> list[_Span]:
    """Split a run of colour-vocabulary words into colour names: repeatedly take the longest
    resolvable prefix (``"light blue"`` before ``"light"``)."""
    words = [(m.start(), m.end()) for m in re.finditer(r"[A-Za-z]+", run)]
    out, i = [], 0
    while i < len(words):
        for j in range(min(len(words), i + MAX_NAME_WORDS), i, -1):
            rgb = _resolve_words([run[a:b].lower() for a, b in words[i:j]])
            if rgb is not None:
                a, b = offset + words[i][0], offset + words[j - 1][1]
                out.append(_Span(a, b, rgb, False, text[a:b]))
                i = j
                break
        else:
            i += 1
    return out


# ----------------------------------------------------------------------------------------------
# palettes
# ----------------------------------------------------------------------------------------------

_LEAD = {
    "and", "then", "also", "please", "paint", "color", "colour", "mark", "draw", "render", "show",
    "label", "fill", "highlight", "segment", "make", "use", "with", "the", "all", "every", "each",
    "a", "an", "any", "set", "give", "assign", "map", "so", "while", "where", "finally", "lastly",
    "next", "now", "shade", "tint", "select", "outline", "mask", "let", "should", "in", "of", "as",
}
_TRAIL = {
    "is", "are", "be", "been", "should", "must", "will", "shall", "would", "can", "represented",
    "by", "shown", "drawn", "painted", "coloured", "colored", "rendered", "filled", "marked",
    "labeled", "labelled", "highlighted", "displayed", "depicted", "indicated", "denoted", "encoded",
    "in", "as", "with", "using", "use", "colour", "color", "of", "to", "gets", "get", "has", "have",
    "set", "assigned", "mapped", "corresponds", "correspond", "equals", "means", "at", "and", "into",
    "solid", "pure", "uniform", "plain", "the", "a", "an", "its", "their", "please", "shaded",
    "tinted", "appear", "appears", "also", "it", "them", "paint", "draw", "mark", "highlight",
}
_AFTER_LEAD = {
    "for", "is", "are", "means", "mean", "represents", "represent", "indicates", "denotes", "marks",
    "shows", "to", "the", "all", "each", "every", "a", "an", "any", "stands", "of", "goes",
}
_SEPS = ("->", "=>", "\u2192", ":", "=")
_VOID_RE = re.compile(
    r"\b(?:on|over|against)\s+(?:a|an|the)?\s*\x00(\d+)\x01\s+background\b"
    r"|\b(?:everything|anything|all)\s+else\b[^\x00;.\n]*\x00(\d+)\x01"
    r"|\bthe\s+rest\b[^\x00;.\n]*\x00(\d+)\x01"
    r"|\b(?:all\s+)?(?:other|remaining|unlabell?ed|unassigned)\s+(?:pixels|regions|areas)\b[^\x00;.\n]*\x00(\d+)\x01",
    re.IGNORECASE,
)
_BG_RE = re.compile(
    r"\bbackground\s+(?:is|in|as|should\s+be|:|=|colou?r)?\s*(?:is\s+)?\x00(\d+)\x01"
    r"|\bpaint\s+the\s+background\s+\x00(\d+)\x01",
    re.IGNORECASE,
)
_PREFIX_RE = re.compile(
    r"\b(?:where|in which|such that|so that|whereby|segmentation(?:\s+map)?(?:\s+(?:of|for|with|in which))?)\s",
    re.IGNORECASE,
)
_PHRASES_RE = re.compile(r"\b(?:the\s+)?(?:pixels|regions|areas|parts)\s+of\b", re.IGNORECASE)
_SUSPECT_RE = re.compile(r"(?:\b(?:is|are|in|as|be|with|using)|[:=])\s+([A-Za-z][A-Za-z\-]+)\s*$", re.IGNORECASE)
_NOT_COLORS = {"classes", "class", "follows", "follow", "palette", "colors", "colours", "below", "image"}


def _mask(text: str, spans: list[_Span]) -> str:
    out, pos = [], 0
    for i, s in enumerate(spans):
        out.append(text[pos : s.start])
        out.append(f"\x00{i}\x01")
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


def _strip_words(text: str, words: set[str], *, leading: bool) -> str:
    text = text.strip(" \t\"'`{}[]()*,")
    while True:
        text = _PHRASES_RE.sub(" ", text).strip() if leading else text
        parts = text.split()
        if not parts:
            return ""
        w = parts[0] if leading else parts[-1]
        if w.lower().strip("\"'`,") not in words:
            return text
        text = (" ".join(parts[1:]) if leading else " ".join(parts[:-1])).strip(" \t\"'`{}[]()*,")


def _class_before(text: str) -> str:
    t = text.strip().strip("\"'`{}[]*,").rstrip()
    for sep in _SEPS:
        if t.endswith(sep):
            t = t[: -len(sep)]
            break
    for sep in (":", "=>", "->", "\u2192"):
        t = t.rsplit(sep, 1)[-1]
    t = _PREFIX_RE.split(t)[-1]
    t = _strip_words(t, _TRAIL, leading=False)
    return _strip_words(t, _LEAD, leading=True)


def _class_after(text: str) -> str:
    t = text.strip()
    for sep in _SEPS:
        if t.startswith(sep):
            t = t[len(sep) :]
            break
    t = _strip_words(t, _AFTER_LEAD | _LEAD, leading=True)
    t = t.split(":", 1)[0]
    return _strip_words(t, _TRAIL, leading=False)


def _json_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced {...} block at top level."""
    blocks, depth, start, in_str = [], 0, 0, None
    for i, ch in enumerate(text):
        if in_str:
            if ch == in_str and text[i - 1] != "\\":
                in_str = None
        elif ch in "\"" and depth > 0:
            in_str = ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                blocks.append((start, i + 1))
    return blocks


def _load_json(block: str) -> object | None:
    for candidate in (block, re.sub(r"[(<]([\d\s,]+)[)>]", r"[\1]", block.replace("'", '"'))):
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):  # not JSON; nested too deep; an integer of > 4300 digits
            continue
    return None


def _json_entries(obj: object, out: list[tuple[str, RGB]]) -> None:
    """(class, colour) pairs of a parsed JSON mapping, nested mappings included, in document order
    (walked with an explicit stack: any depth json.loads accepts is fine)."""
    if not isinstance(obj, dict):
        return
    stack = [iter(obj.items())]
    while stack:
        for key, value in stack[-1]:
            if isinstance(value, dict):
                stack.append(iter(value.items()))
                break
            _json_entry(key, value, out)
        else:
            stack.pop()


def _json_entry(key: str, value: object, out: list[tuple[str, RGB]]) -> None:
    if isinstance(value, str):
        try:
            out.append((str(key), parse_color(value)))
        except InstructionError:
            if resolve_name(key) is None and not (key.startswith(("#", "(", "[", "<", "rgb"))):
                raise
            out.append((value, parse_color(key)))  # inverted mapping: {"(1, 2, 3)": "road"}
    elif (isinstance(value, list) and len(value) == 3
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        if not all(0 <= v <= 255 for v in value):
            raise InstructionError(
                f"colour {reprlib.repr(value)} for {reprlib.repr(key)} is out of range; expected ints in 0..255"
            )
        out.append((str(key), (value[0], value[1], value[2])))
    else:
        raise InstructionError(
            f"class {reprlib.repr(key)} has value {reprlib.repr(value)}; expected [r, g, b], '#RRGGBB' or a "
            "colour name"
        )


def _split_clauses(masked: str) -> list[str]:
    return [c for c in re.split(r"[;\n.!?,]+", masked) if c.strip()]


def _split_and(clause: str) -> list[str]:
    """Split a clause holding several colours at ' and '/' then ', gluing colourless pieces onto the
    next one ("the man and the woman in red and the dog in blue")."""
    pieces = re.split(r"\s+(?:and|then|&)\s+", clause)
    out, pending = [], ""
    for p in pieces:
        joined = f"{pending} and {p}" if pending else p
        if "\x00" in p:
            out.append(joined)
            pending = ""
        else:
            pending = joined
    if pending:
        out.append(pending) if not out else out.__setitem__(-1, f"{out[-1]} and {pending}")
    return out


_QUOTED_RE = re.compile(r'"([^"\n]+)"|\u201c([^\u201d\n]+)\u201d')


def _protect_quotes(text: str) -> tuple[str, list[str]]:
    """Replace quoted strings by placeholders so that their commas, periods and colour words stay
    part of a class name or expression."""
    quoted: list[str] = []

    def keep(m: re.Match[str]) -> str:
        quoted.append(m.group(1) if m.group(1) is not None else m.group(2))
        return f"\x02{len(quoted) - 1}\x03"

    return _QUOTED_RE.sub(keep, text), quoted


def _restore_quotes(text: str, quoted: list[str], *, marks: bool = False) -> str:
    q = '"' if marks else ""
    return re.sub(r"\x02(\d+)\x03", lambda m: q + quoted[int(m.group(1))] + q, text)


def _unmask(masked: str, spans: list[_Span]) -> str:
    return re.sub(r"\x00(\d+)\x01", lambda m: spans[int(m.group(1))].text, masked)


_AFTER_CONNECTOR = re.compile(r"\s*(?:for|means|represents|denotes|indicates|stands\s+for)\b", re.IGNORECASE)


def _clause_entries(clause: str, spans: list[_Span]) -> list[tuple[str, RGB]]:
    ids = [int(i) for i in re.findall(r"\x00(\d+)\x01", clause)]
    if not ids:
        return []
    numeric = [i for i in ids if spans[i].numeric]
    if numeric:
        chosen = numeric
    elif len(ids) == 1:
        chosen = ids
    else:  # several names: "use red for the man in blue", "red means snow" -> red; "the red car in blue" -> blue
        m = re.search(r"\x00(\d+)\x01\s+(?:for|means|represents|denotes|indicates|stands)\b", clause, re.IGNORECASE)
        chosen = [int(m.group(1))] if m else [ids[-1]]
    keep = set(chosen)
    # text pieces around the chosen colours; other colour names go back into the text
    pieces = re.split(r"\x00(\d+)\x01", clause)
    texts, current = [], ""
    for k, piece in enumerate(pieces):
        if k % 2 == 0:
            current += piece
        elif int(piece) in keep:
            texts.append(current)
            current = ""
        else:
            current += spans[int(piece)].text
    texts.append(current)
    before = [_class_before(_unmask(t, spans)) for t in texts[:-1]]
    if before[0] and not _AFTER_CONNECTOR.match(texts[1]):
        classes = before
    else:
        classes = [_class_after(_unmask(t, spans)) for t in texts[1:]]
    if len(chosen) == 1 and not classes[0] and not spans[chosen[0]].numeric:
        # "paint the sky blue": the name run "sky blue" swallowed the class; give its first
        # word(s) back to the class while the rest is still a colour
        span = spans[chosen[0]]
        words = span.text.split()
        for k in range(1, len(words)):
            rgb = resolve_name(" ".join(words[k:]))
            name = _class_before(_unmask(texts[0], spans) + " " + " ".join(words[:k]))
            if rgb is not None and name:
                return [(name, rgb)]
    return [(c, spans[i].rgb) for c, i in zip(classes, chosen) if c]


def _check_unknown_names(clause: str) -> None:
    m = _SUSPECT_RE.search(clause) or re.search(r"\buse\s+([A-Za-z][A-Za-z\-]+)\s+for\b", clause, re.IGNORECASE)
    if not m:
        return
    word = m.group(1).lower()
    if word in _NOT_COLORS or word in _LEAD or word in _TRAIL:
        return
    close = difflib.get_close_matches(word.replace("-", ""), sorted(_ALL_NAMES), n=3, cutoff=0.75)
    if close:
        raise InstructionError(
            f"unknown colour name {m.group(1)!r} in {quote_text(clause.strip())}; did you mean "
            f"{', '.join(repr(c) for c in close)}?"
        )


#: the characters the parser uses as placeholders in text (colour spans, quoted strings): a user's
#: text may hold them too, so the public functions read them as spaces
_PLACEHOLDERS = str.maketrans(dict.fromkeys("\x00\x01\x02\x03", " "))


def extract_background(text: str) -> tuple[RGB | None, str]:
    """Find a background colour ("on a black background", "background (0, 0, 0)", "everything
    else black") and return it with the text that remains without that phrase.

    Returns:
        ``(rgb or None, remaining_text)``.
    """
    protected, quoted = _protect_quotes(text.translate(_PLACEHOLDERS))
    spans = find_colors(protected)
    masked = _mask(protected, spans)
    rgb = None
    for regex in (_VOID_RE, _BG_RE):
        m = regex.search(masked)
        if m and rgb is None:
            rgb = spans[int(next(g for g in m.groups() if g is not None))].rgb
            masked = masked[: m.start()] + masked[m.end() :]
    return rgb, _restore_quotes(_unmask(masked, spans), quoted, marks=True).strip()


def parse_palette(text: str) -> dict[str, RGB]:
    """Read the class -> colour mapping out of an instruction.

    Accepts, mixed in one text: a JSON mapping (possibly inside a sentence; values as ``[r, g, b]``
    lists, hex or colour names; single quotes and ``(r, g, b)`` tolerated), sentences ("the road is
    represented by (128, 64, 128)", "cars are shown in light blue", "paint the plates
    <255,192,128>", "use red for person and blue for car") and lists ("road: (128,64,128);
    sidewalk: #F423E8"). Colours: names with modifiers, ``#RGB``, ``#RRGGBB``, ``(r, g, b)``,
    ``<r, g, b>``, ``[r, g, b]``, ``rgb(r, g, b)``. Phrases that name the void colour ("on a black
    background", "everything else black") are not classes and are skipped.

    Args:
        text: the instruction.

    Returns:
        ``{class name: (r, g, b)}`` in the order the classes appear in ``text``.

    Raises:
        InstructionError: nothing parsable (quotes the text), an unknown colour name (suggests close
            names), two classes with the same colour, or one class given two different colours.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected the instruction as str, got {type(text).__name__}")
    text = text.translate(_PLACEHOLDERS)
    entries: list[tuple[str, RGB]] = []
    pos = 0
    for a, b in _json_blocks(text):  # JSON blocks and the prose around them, in text order
        obj = _load_json(text[a:b])
        if obj is None:
            continue
        entries += _prose_entries(text[pos:a])
        _json_entries(obj, entries)
        pos = b
    entries += _prose_entries(text[pos:])
    if not entries:
        raise InstructionError(
            f"could not find any class -> colour mapping in {quote_text(text)}; write it as JSON "
            "('{\"road\": [128, 64, 128]}'), sentences ('the road is (128, 64, 128)') or a list "
            "('road: #804080; sky: light blue')"
        )
    return _to_palette(entries)


def _prose_entries(text: str) -> list[tuple[str, RGB]]:
    """(class, colour) pairs of the sentences and lists in ``text`` (no JSON), in text order."""
    entries: list[tuple[str, RGB]] = []
    plain, quoted = _protect_quotes(text)
    spans = find_colors(plain)
    masked = _VOID_RE.sub(" ", _mask(plain, spans))
    for clause in _split_clauses(masked):
        if "\x00" not in clause:
            _check_unknown_names(clause)
            continue
        n_colors = len(re.findall(r"\x00", clause))
        for part in _split_and(clause) if n_colors > 1 else [clause]:
            entries.extend((_restore_quotes(c, quoted), rgb) for c, rgb in _clause_entries(part, spans))
    return entries


def _to_palette(entries: list[tuple[str, RGB]]) -> dict[str, RGB]:
    palette: dict[str, RGB] = {}
    owner: dict[RGB, str] = {}
    for name, rgb in entries:
        name = " ".join(name.split())
        if name in palette and palette[name] != rgb:
            raise InstructionError(f"class {name!r} is given two colours: {palette[name]} and {rgb}")
        if rgb in owner and owner[rgb] != name:
            raise InstructionError(
                f"classes {owner[rgb]!r} and {name!r} have the same colour {rgb}; every class needs its own"
            )
        palette[name] = rgb
        owner[rgb] = name
    return palette


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------

#: notations of :func:`render_palette` (``"name"`` falls back to a numeric notation for colours
#: without an exact name; ``"mixed"`` draws a notation per class)
NOTATIONS = ("json", "tuple", "angle", "bracket", "rgb", "hex", "name", "mixed")
_COLOR_NOTATIONS = ("tuple", "angle", "bracket", "rgb", "hex", "name")

_REVERSE: dict[RGB, list[str]] = {}
for _n, _c in CSS_COLORS.items():
    _REVERSE.setdefault(_c, []).append(_n)


def _spaced(name: str) -> str:
    """'lightskyblue' -> 'light sky blue' (split into known words where possible)."""
    vocab = set(_ALL_NAMES) | set(MODIFIERS) | NAME_PARTS

    def split(s: str) -> list[str] | None:
        for k in range(len(s) - 1, 0, -1):
            if s[:k] in vocab and (rest := split(s[k:])) is not None:
                return [s[:k], *rest]
        return [s] if s in vocab else None

    words = split(name)
    return " ".join(words) if words else name


def color_name(rgb: Sequence[int]) -> str | None:
    """The CSS name whose value is exactly ``rgb`` (the first alphabetically), or None."""
    names = _REVERSE.get(tuple(int(v) for v in rgb))  # type: ignore[arg-type]
    return names[0] if names else None


def render_color(rgb: Sequence[int], rng: np.random.Generator | None = None, notation: str | None = None) -> str:
    """Write one colour in a notation: ``tuple`` ``(r, g, b)``, ``angle`` ``<r, g, b>``, ``bracket``
    ``[r, g, b]``, ``rgb`` ``rgb(r, g, b)``, ``hex`` ``#RRGGBB`` (or ``#RGB``), ``name`` (exact CSS
    name only, else a numeric notation). ``rng=None`` and no notation gives ``(r, g, b)``."""
    r, g, b = (int(v) for v in rgb)
    if notation is None:
        notation = "tuple" if rng is None else str(rng.choice(_COLOR_NOTATIONS))
    if notation not in _COLOR_NOTATIONS:
        raise ValueError(f"unknown colour notation {notation!r}; expected one of {_COLOR_NOTATIONS}")
    sep = ", " if rng is None or rng.random() < 0.7 else ","
    if notation == "name":
        names = _REVERSE.get((r, g, b))
        if not names:
            return render_color(rgb, rng, None if rng is not None else "tuple")
        name = names[0] if rng is None else str(rng.choice(names))
        return _spaced(name) if rng is None or rng.random() < 0.7 else name
    if notation == "hex":
        short = all(v % 17 == 0 for v in (r, g, b)) and rng is not None and rng.random() < 0.3
        text = f"#{r // 17:x}{g // 17:x}{b // 17:x}" if short else f"#{r:02x}{g:02x}{b:02x}"
        return text.upper() if rng is None or rng.random() < 0.5 else text
    opening, closing = {"tuple": "()", "angle": "<>", "bracket": "[]", "rgb": ("rgb(", ")")}[notation]
    return f"{opening}{r}{sep}{g}{sep}{b}{closing}"


_BEFORE_TEMPLATES = (
    "the {c} is represented by {v}", "{c}: {v}", "{c} = {v}", "the {c} is {v}", "{c} are shown in {v}",
    "colour the {c} in {v}", "{c} in {v}", "mark {c} with {v}", "{c} -> {v}", "the {c} should be painted {v}",
)
_NUMERIC_ONLY_TEMPLATES = ("paint the {c} {v}", "{c} {v}")
_AFTER_TEMPLATES = ("use {v} for {c}", "{v} for {c}", "{v} for the {c}", "{v} means {c}")
_JOINERS = (", ", "; ", ". ", "\n", " and ", ", and ")


def render_palette(
    palette: Mapping[str, Sequence[int]], rng: np.random.Generator | None = None, notation: str | None = None
) -> str:
    """Write a palette as instruction text.

    Args:
        palette: ``{class name: (r, g, b)}``; non-empty, distinct colours.
        rng: draws the phrasing. None gives the canonical text ``"road: (128, 64, 128); ..."``.
        notation: one of :data:`NOTATIONS`; None draws one (with an rng) or uses ``"tuple"``.

    Returns:
        Text that :func:`parse_palette` reads back to ``palette`` (same classes, colours, order).
    """
    if not palette:
        raise ValueError("render_palette needs a non-empty palette")
    if notation is not None and notation not in NOTATIONS:
        raise ValueError(f"unknown notation {notation!r}; expected one of {NOTATIONS}")
    items = [(str(k), tuple(int(x) for x in v)) for k, v in palette.items()]
    if rng is None:
        if notation == "json":
            return json.dumps({k: list(v) for k, v in items})
        return "; ".join(f"{k}: {render_color(v, None, notation or 'tuple')}" for k, v in items)
    notation = notation or str(rng.choice(NOTATIONS))
    if notation == "json":
        def value(v: tuple[int, ...]) -> object:
            kind = rng.choice(("list", "hex", "name"))
            if kind == "hex":
                return render_color(v, rng, "hex")
            if kind == "name" and color_name(v):
                return render_color(v, rng, "name")
            return list(v)

        return json.dumps({k: value(v) for k, v in items}, indent=2 if rng.random() < 0.3 else None)
    joiner = str(rng.choice(_JOINERS))
    out = []
    for k, v in items:
        color_notation = str(rng.choice(_COLOR_NOTATIONS)) if notation == "mixed" else notation
        text = render_color(v, rng, color_notation)
        templates = _BEFORE_TEMPLATES + _AFTER_TEMPLATES
        if resolve_name(text) is None:  # numeric notations may sit right after the class
            templates = templates + _NUMERIC_ONLY_TEMPLATES
        out.append(str(rng.choice(templates)).format(c=k, v=text))
    return joiner.join(out)
