"""Language from the scene graph: captions, referring expressions, reasoning queries.

Referring expressions follow a small grammar, and :func:`resolve` evaluates any sentence of it
over a scene's objects, independently of how the sentence was made::

    EXPR := "the " [SUPERLATIVE " "] NP [" " RELATION " the " NP]
    NP   := [COLOUR " "] CLASS            ("person wearing COLOUR" for people)
    SUPERLATIVE := largest | smallest | leftmost | rightmost | nearest | farthest
    RELATION    := "left of" | "right of" | "on"

The generator proposes expressions for each visible object and keeps one only when the resolver
returns exactly that object (and superlatives win by a clear margin), so every expression
stored in a Scene resolves to exactly its object.
"""

from __future__ import annotations

import re

import numpy as np

from openbanana.data.synthetic.classes import CLASSES, DRINKABLE_FROM, LIGHT_SOURCES, SITTABLE
from openbanana.data.synthetic.materials import COLOR_NAMES

# classes whose colour is chosen per object and worth naming
COLOURED = frozenset({"ball", "bottle", "cup", "box", "book", "vase", "toy", "chair", "sofa", "bed", "car",
                      "person", "sign", "door", "cabinet", "table", "shelf", "rug", "bench", "lamp"})
NOT_REFERABLE = frozenset({"window", "painting"})
SUPERLATIVES = ("largest", "smallest", "leftmost", "rightmost", "nearest", "farthest")
_CLASS_RE = "|".join(sorted((re.escape(c) for c in CLASSES), key=len, reverse=True))
_COLOR_RE = "|".join(COLOR_NAMES)
_NP = rf"(?:person wearing (?P<{{p}}pc>{_COLOR_RE})|(?:(?P<{{p}}c>{_COLOR_RE}) )?(?P<{{p}}k>{_CLASS_RE}))"
_EXPR = re.compile(
    rf"^the (?:(?P<sup>{'|'.join(SUPERLATIVES)}) )?{_NP.format(p='t')}"
    rf"(?: (?P<rel>left of|right of|on) the {_NP.format(p='l')})?$"
)


def min_pixels(H: int, W: int) -> int:
    """Objects smaller than this (0.25 % of the image, at least 12 px) are not talked about."""
    return max(12, int(0.0025 * H * W))


def candidates(scene) -> list:
    H, W = scene.size
    m = min_pixels(H, W)
    return [o for o in scene.objects if o.visible_px >= m and o.class_name not in NOT_REFERABLE]


def noun_phrase(obj, with_colour: bool) -> str:
    if obj.class_name == "person":
        return f"person wearing {obj.color_name}" if with_colour else "person"
    return f"{obj.color_name} {obj.class_name}" if with_colour else obj.class_name


def _index(objs) -> dict:
    """The objects each noun phrase matches, in scene order: (class, colour) and (class, None) ->
    list (a phrase matching nothing is absent); built once per scene, as proposals look the same
    phrases up many times."""
    index: dict[tuple[str, str | None], list] = {}
    for o in objs:
        index.setdefault((o.class_name, None), []).append(o)
        index.setdefault((o.class_name, o.color_name), []).append(o)
    return index


def _volume(o):
    sx, sy, sz = o.size_m
    return float(sx * sy * sz)  # = np.prod(size_m): left to right


_SUPERLATIVE_KEYS = {
    "largest": (lambda o: -_volume(o)),
    "smallest": _volume,
    "leftmost": (lambda o: o.centroid_px[0]),
    "rightmost": (lambda o: -o.centroid_px[0]),
    "nearest": (lambda o: o.depth_m),
    "farthest": (lambda o: -o.depth_m),
}


def _superlative_key(sup):
    return _SUPERLATIVE_KEYS[sup]


def _relations(target, landmark) -> tuple[str, ...]:
    """The spatial relations that hold between target and landmark, in the order on, left of,
    right of: "on" is the support relation, left / right compare the target's centroid with the
    landmark's bounding box in the image."""
    x = target.centroid_px[0]
    return ((("on",) if target.support == landmark.instance_id else ())
            + (("left of",) if x < landmark.bbox_px[0] else ()) + (("right of",) if x > landmark.bbox_px[2] else ()))


def parse(expression: str) -> dict:
    """Parse an expression of the grammar; raises ValueError if it is not one."""
    m = _EXPR.match(expression.strip())
    if not m:
        raise ValueError(f"not a referring expression of the grammar: {expression!r}")
    g = m.groupdict()
    target = ("person", g["tpc"]) if g["tpc"] else (g["tk"], g["tc"])
    landmark = None
    if g["rel"]:
        landmark = ("person", g["lpc"]) if g["lpc"] else (g["lk"], g["lc"])
    return {"sup": g["sup"], "target": target, "rel": g["rel"], "landmark": landmark}


def resolve(expression: str, scene) -> list[int]:
    """Instance ids of the visible objects an expression denotes (empty if none; > 1 if ambiguous)."""
    q = parse(expression)
    return _denotes(_index(candidates(scene)), q["sup"], q["target"], q["rel"], q["landmark"])


def _denotes(index, sup, target, rel, landmark) -> list[int]:
    """resolve() on a parsed expression over the _index of the visible objects: target and
    landmark are (class, colour or None)."""
    found = index.get(target, [])
    if rel:
        lms = index.get(landmark, ())
        if len(lms) != 1:
            return []
        found = [o for o in found if o.instance_id != lms[0].instance_id and rel in _relations(o, lms[0])]
    if sup and found:
        found = [min(found, key=_superlative_key(sup))]
    return sorted(o.instance_id for o in found)


def _np_parsed(obj, with_colour: bool) -> tuple[str, str | None]:
    """What parse() reads back from noun_phrase(obj, with_colour): (class, colour or None)."""
    return obj.class_name, (obj.color_name if with_colour else None)


def _clear_margin(sup, group, target, W) -> bool:
    others = [o for o in group if o.instance_id != target.instance_id]
    if not others:
        return False  # a superlative over one object reads oddly
    key = _superlative_key(sup)
    runner = min(others, key=key)
    if sup in ("leftmost", "rightmost"):
        return abs(target.centroid_px[0] - runner.centroid_px[0]) > 0.08 * W
    if sup in ("nearest", "farthest"):
        a, b = target.depth_m, runner.depth_m
        return max(a, b) > 1.2 * min(a, b)
    a, b = _volume(target), _volume(runner)
    return max(a, b) > 1.8 * min(a, b)


def referring_expressions(scene, rng: np.random.Generator, max_count: int = 8) -> list[tuple[str, int]]:
    """Up to ``max_count`` (expression, instance_id) pairs, each resolving to exactly its object.

    Proposals are kept as parsed tuples (superlative, target, relation, landmark) and checked with
    the resolver's own evaluation (:func:`_denotes`, what :func:`resolve` runs after parsing); only
    the accepted one is written out as text."""
    objs = candidates(scene)
    index = _index(objs)
    W = scene.size[1]
    out: list[tuple[str, int]] = []
    order = rng.permutation(len(objs)).tolist()
    weight = iter(rng.uniform(0.3, 1.0, len(order)).tolist())  # one draw per object, in permutation order
    order.sort(key=lambda i: -objs[i].visible_px * next(weight))
    for i in order:
        if len(out) >= max_count:
            break
        o = objs[i]
        colour_ok = o.class_name in COLOURED
        colours = (False, True) if colour_ok else (False,)
        # (superlative, with_colour, relation, landmark, landmark_with_colour)
        proposals: list[tuple] = [(None, wc, None, None, False) for wc in colours]
        sups = list(SUPERLATIVES)
        rng.shuffle(sups)
        proposals += [(sup, wc, None, None, False) for sup in sups[:3] for wc in colours]
        landmarks = [x for x in objs if x.instance_id != o.instance_id]
        rng.shuffle(landmarks)
        for lm in landmarks[:4]:
            for rel in _relations(o, lm):
                for lc in ((False, True) if lm.class_name in COLOURED else (False,)):
                    proposals += [(None, wc, rel, lm, lc) for wc in colours]
        # prefer short, plain expressions but keep variety
        simple = proposals[:2]
        rest = proposals[2:]
        rng.shuffle(rest)
        # rng.random() is rng.uniform(): the same draw, the same value, without uniform's argument handling
        for sup, wc, rel, lm, lc in simple + rest if rng.random() < 0.5 else rest + simple:
            target = _np_parsed(o, wc)
            landmark = _np_parsed(lm, lc) if rel else None
            if _denotes(index, sup, target, rel, landmark) != [o.instance_id]:
                continue
            if sup is not None and not _clear_margin(sup, index[target], o, W):
                continue
            if sup is not None:
                expr = f"the {sup} " + noun_phrase(o, wc)
            elif rel is not None:
                expr = f"the {noun_phrase(o, wc)} {rel} the {noun_phrase(lm, lc)}"
            else:
                expr = "the " + noun_phrase(o, wc)
            out.append((expr, o.instance_id))
            break
    return out


# ----------------------------------------------------------------------------- reasoning
def reasoning_queries(scene) -> list[tuple[str, list[int]]]:
    """Queries that need one step of thought, with every visible object that answers them."""
    objs = candidates(scene)
    outdoor = scene.kind == "outdoor"
    q: list[tuple[str, list[int]]] = []

    def add(text, ids):
        if ids:
            q.append((text, sorted(ids)))

    def of(classes):  # a list comprehension per query: no predicate call per object
        return [o.instance_id for o in objs if o.class_name in classes]

    add("something you could sit on", of(SITTABLE))
    add("something that gives light", of(LIGHT_SOURCES))
    add("something you could drink from", of(DRINKABLE_FROM))
    add("something alive", of(("plant", "tree", "person")))
    add(f"what would roll if the {'street' if outdoor else 'floor'} tilted", [o.instance_id for o in objs if o.rolls])
    add("something you could drive", of(("car",)))
    add("a place to put a book", of(("shelf", "table", "cabinet")))
    add("something that tells drivers what to do", of(("sign",)))
    add("something you could walk through", of(("door",)))
    if objs:
        near = min(objs, key=lambda o: o.depth_m)
        q.append(("the object closest to the camera", [near.instance_id]))
        tall = max(objs, key=lambda o: o.size_m[1])
        q.append(("the tallest object", [tall.instance_id]))
    return q


# ----------------------------------------------------------------------------- captions
_ROOM_WORDS = {
    "living": "living room", "bedroom": "bedroom", "kitchen": "kitchen", "office": "home office",
    "playroom": "playroom", "street": "city street", "plaza": "town square",
}


def _plural(name: str, n: int) -> str:
    if n == 1:
        return name
    if name == "person":
        return "people"
    if name.endswith(("sh", "ch", "x", "s")):
        return name + "es"
    if name == "shelf":
        return "shelves"
    return name + "s"


_NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


#: a caption names at most this many object classes
CAPTION_MAX_CLASSES = 6


def caption_groups(scene) -> list[tuple[str, list]]:
    """``(class name, its objects)`` that :func:`caption` names, most visible class first (at most
    :data:`CAPTION_MAX_CLASSES`; objects largest first)."""
    counts: dict[str, list] = {}
    for o in sorted(candidates(scene), key=lambda o: -o.visible_px):
        counts.setdefault(o.class_name, []).append(o)
    return sorted(counts.items(), key=lambda kv: -sum(o.visible_px for o in kv[1]))[:CAPTION_MAX_CLASSES]


def place_words(room_type: str) -> str:
    """How a caption names a scene's ``room_type`` (``"office"`` -> ``"home office"``)."""
    return _ROOM_WORDS.get(room_type, room_type)


def caption_place(scene) -> str:
    """The place a caption names (``"kitchen"``, ``"city street"``, ...)."""
    return place_words(scene.room_type)


def caption(scene, rng: np.random.Generator) -> str:
    """One or two sentences describing the scene: place, main objects with colours, light."""
    items = []
    for cls, group in caption_groups(scene):
        n = len(group)
        if n == 1:
            o = group[0]
            art = "an" if (noun_phrase(o, cls in COLOURED)[0] in "aeiou") else "a"
            items.append(f"{art} {noun_phrase(o, cls in COLOURED)}")
        else:
            word = _NUMBERS[n] if n < len(_NUMBERS) else "many"
            items.append(f"{word} {_plural(cls, n)}")
    place = caption_place(scene)
    art = "An" if place[0] in "aeiou" else "A"
    body = f"{art} {place}" + (" with " + (", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0])
                              if items else "")
    spec = scene.spec
    light = ""
    if spec is not None:
        suns = [L for L in spec.lights if L.kind == "sun"]
        if scene.kind == "outdoor":
            light = "at dusk" if spec.split == "shift" else ("under an overcast sky" if suns and suns[0].intensity < 2
                                                             else "on a sunny day")
        else:
            lamps = sum(L.kind == "point" for L in spec.lights)
            light = "with sunlight through the window" if suns else f"lit by {_NUMBERS[min(lamps, 9)]} lamp" + (
                "s" if lamps != 1 else "")
    return f"{body}, {light}." if light else f"{body}."
