"""Referring expressions resolve to exactly their object; the resolver itself; reasoning; captions."""

import numpy as np
import pytest

from openbanana.data.synthetic import render_scene, resolve
from openbanana.data.synthetic.language import parse
from openbanana.data.synthetic.scene import Camera, Scene, SceneObject


def _scene(objs, kind="indoor"):
    H = W = 100
    z = np.zeros((H, W))
    s = Scene(np.zeros((H, W, 3), np.uint8), z.astype(np.float32), np.zeros((H, W, 3), np.float32),
              z.astype(np.uint8), z.astype(np.int32), objs, Camera((0, 0, 0), 0, 0, 0, 60), kind, "train", 0)
    return s


def _o(i, cls, col, x, depth=2.0, size=(0.2, 0.2, 0.2), support=None):
    return SceneObject(i, cls, col, (0, 0, 0), size, (0, 0, 0), support=support, visible_px=200,
                       bbox_px=(x - 5, 40, x + 5, 60), centroid_px=(float(x), 50.0), depth_m=depth)


def test_resolver_on_a_hand_made_scene_graph():
    s = _scene([_o(1, "ball", "red", 20), _o(2, "ball", "blue", 50, depth=4.0, size=(0.5, 0.5, 0.5)),
                _o(3, "lamp", "white", 80), _o(4, "table", "brown", 50), _o(5, "cup", "red", 52, support=4)])
    assert resolve("the ball", s) == [1, 2]  # ambiguous: both
    assert resolve("the red ball", s) == [1]
    assert resolve("the blue ball", s) == [2]
    assert resolve("the green ball", s) == []
    assert resolve("the ball left of the lamp", s) == [1, 2]
    assert resolve("the red ball left of the lamp", s) == [1]
    assert resolve("the ball right of the red ball", s) == [2]
    assert resolve("the leftmost ball", s) == [1] and resolve("the rightmost ball", s) == [2]
    assert resolve("the nearest ball", s) == [1] and resolve("the farthest ball", s) == [2]
    assert resolve("the largest ball", s) == [2] and resolve("the smallest ball", s) == [1]
    assert resolve("the cup on the table", s) == [5] and resolve("the ball on the table", s) == []
    assert resolve("the ball left of the ball", s) == []  # landmark must be unique


def test_resolver_ignores_tiny_objects():
    tiny = _o(2, "ball", "red", 60)
    tiny.visible_px = 3
    s = _scene([_o(1, "ball", "blue", 20), tiny])
    assert resolve("the ball", s) == [1]


@pytest.mark.parametrize("text", ["a red ball", "the ball near the lamp", "the big ball", "the ball ", "the tiger"])
def test_parse_rejects_sentences_outside_the_grammar(text):
    if text.strip() == "the ball":
        assert parse(text)["target"] == ("ball", None)
        return
    with pytest.raises(ValueError):
        parse(text)


@pytest.mark.parametrize("split", ["train", "val", "shift"])
def test_every_referring_expression_resolves_to_exactly_its_object(split):
    n_expr = 0
    for seed in range(8):
        s = render_scene(seed, split=split, size=96)
        for expr, inst in s.referring:
            assert resolve(expr, s) == [inst], (seed, expr)
            assert s.object(inst).visible_px > 0
            n_expr += 1
        for query, ids in s.reasoning:
            assert ids and all(s.object(i).visible_px > 0 for i in ids), query
        assert s.caption.endswith(".") and len(s.caption.split()) >= 3
    assert n_expr >= 16


def test_reasoning_answers_follow_affordances():
    s = render_scene(3, split="train", size=96)
    q = dict(s.reasoning)
    if "something you could sit on" in q:
        assert {s.object(i).class_name for i in q["something you could sit on"]} <= {"chair", "sofa", "bed", "bench"}
    near = q["the object closest to the camera"][0]
    vis = [o for o in s.objects if o.visible_px >= 23 and o.class_name not in ("window", "painting")]
    assert s.object(near).depth_m == min(o.depth_m for o in vis)


def test_generated_noun_phrases_parse_back_to_their_tuples():
    # referring_expressions checks proposals as parsed tuples; this is what parse() gives for their text
    from openbanana.data.synthetic.classes import CLASSES
    from openbanana.data.synthetic.language import _np_parsed, noun_phrase, parse
    from openbanana.data.synthetic.materials import COLOR_NAMES

    for cls in CLASSES:
        for colour in COLOR_NAMES:
            o = SceneObject(1, cls, colour, COLOR_NAMES[colour], (1.0, 1.0, 1.0), (0.0, 0.0, -3.0))
            for wc in (False, True):
                assert parse("the " + noun_phrase(o, wc))["target"] == _np_parsed(o, wc)
                q = parse(f"the largest {noun_phrase(o, wc)} left of the {noun_phrase(o, not wc)}")
                assert q["target"] == _np_parsed(o, wc) and q["landmark"] == _np_parsed(o, not wc)
