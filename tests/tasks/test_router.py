"""detect_task: free text -> task + spec; it inverts every task's instruction templates."""

from __future__ import annotations

import numpy as np
import pytest

from openbanana.errors import InstructionError
from openbanana.tasks import TASKS
from openbanana.tasks.router import TaskRequest, detect_task, task_conflict

EXPRESSIONS = ["man in the red shirt", "dog on the left", "second car from the right", "woman holding an umbrella",
               "small white cup", "person sitting on a bench", "bowl nearest to the camera"]
QUERIES = ["what would you use to cut the bread?", "which object keeps the rain off?",
           "the thing a cat would most likely sleep on", "where could I sit down, at a distance from the door?"]
CATEGORIES = [None, "car", "person", "traffic sign", "cup"]


def _random_colors(rng, n, avoid):
    out = []
    while len(out) < n:
        c = tuple(int(v) for v in rng.integers(0, 256, 3)) if rng.random() < 0.5 else (
            [(255, 0, 0), (0, 0, 255), (0, 128, 0), (255, 165, 0), (255, 255, 0), (128, 0, 128)][rng.integers(6)])
        if c not in out and c != avoid:
            out.append(c)
    return out


def _random_spec(task: str, rng: np.random.Generator) -> dict:
    bg = (0, 0, 0) if rng.random() < 0.6 else (255, 255, 255) if rng.random() < 0.5 else (10, 20, 30)
    if task == "depth":
        return {"colormap": str(rng.choice(["paper", "plasma", "inferno", "viridis", "grayscale"]))}
    if task == "normals":
        return {}
    if task == "semantic":
        k = int(rng.integers(1, 6))
        names = list(rng.choice(["road", "sky", "car", "person", "traffic light", "tree", "building", "sidewalk"],
                                k, replace=False))
        return {"palette": dict(zip(names, _random_colors(rng, k, None)))}
    if task == "instance":
        return {"background": bg, "category": CATEGORIES[int(rng.integers(len(CATEGORIES)))]}
    if task == "referring":
        n = int(rng.integers(1, 4))
        exprs = list(rng.choice(EXPRESSIONS, n, replace=False))
        return {"colors": _random_colors(rng, n, bg), "background": bg, "expressions": exprs}
    if task == "reasoning":
        return {"colors": _random_colors(rng, 1, bg), "background": bg,
                "expressions": [QUERIES[int(rng.integers(len(QUERIES)))]]}
    raise AssertionError(task)


def _normalised(task: str, spec: dict) -> dict:
    if task == "semantic":
        return {"palette": {str(k): tuple(v) for k, v in spec["palette"].items()}}
    if task in ("referring", "reasoning"):
        return {**spec, "colors": [tuple(c) for c in spec["colors"]], "background": tuple(spec["background"])}
    if task == "instance":
        return {**spec, "background": tuple(spec["background"])}
    return spec


@pytest.mark.parametrize("task", TASKS.names())
def test_router_inverts_every_instruction(task):
    for seed in range(150):
        rng = np.random.default_rng(seed)
        spec = _random_spec(task, rng)
        for text in (TASKS.get(task).instruction(rng, **spec), TASKS.get(task).instruction(None, **spec)):
            for has_image in (None, True):
                req = detect_task(text, has_image=has_image)
                assert req.task == task, (text, req)
                assert _normalised(task, req.spec) == _normalised(task, spec), text


@pytest.mark.parametrize(
    ("text", "task", "spec"),
    [
        ("estimate the depth", "depth", {"colormap": "paper"}),
        ("show depth in greyscale", "depth", {"colormap": "grayscale"}),
        ("how far is everything?", "depth", {"colormap": "paper"}),
        ("predict surface normals", "normals", {}),
        ("highlight the dog in red", "referring",
         {"colors": [(255, 0, 0)], "background": (0, 0, 0), "expressions": ["dog"]}),
        ("segment the dog", "referring", {"colors": [(255, 0, 0)], "background": (0, 0, 0), "expressions": ["dog"]}),
        ("segment the man in red shirt in blue and the dog in green on a white background", "referring",
         {"colors": [(0, 0, 255), (0, 128, 0)], "background": (255, 255, 255),
          "expressions": ["man in red shirt", "dog"]}),
        ("semantic segmentation: road (128, 64, 128), sky #4682B4", "semantic",
         {"palette": {"road": (128, 64, 128), "sky": (70, 130, 180)}}),
        ('Label the classes with this palette {"road": [1, 2, 3]}', "semantic", {"palette": {"road": (1, 2, 3)}}),
        ("What can I cut bread with? paint it orange", "reasoning",
         {"colors": [(255, 165, 0)], "background": (0, 0, 0), "expressions": ["What can I cut bread with?"]}),
        ("segment every car in a different colour on a white background", "instance",
         {"background": (255, 255, 255), "category": "car"}),
        ("instance segmentation", "instance", {"background": (0, 0, 0), "category": None}),
        ("Show each person in a distinct color", "instance", {"background": (0, 0, 0), "category": "person"}),
        (("Please produce a segmentation where the plates are represented by (255,192,128) and the cups are "
         "light purple"), "semantic", {"palette": {"plates": (255, 192, 128), "cups": (192, 128, 192)}}),
        ("Generate the semantic segmentation map using this JSON: {'road': '#804080', 'car': [0,0,142]}",
         "semantic", {"palette": {"road": (128, 64, 128), "car": (0, 0, 142)}}),
        ("Highlight the bus. Use cyan.", "referring",
         {"colors": [(0, 255, 255)], "background": (0, 0, 0), "expressions": ["bus"]}),
        ("Paint the cat's ears orange, the exit sign blue, the background purple", "referring",
         {"colors": [(255, 165, 0), (0, 0, 255)], "background": (128, 0, 128),
          "expressions": ["cat's ears", "exit sign"]}),
        ("Which item here is used for cooking? Mark it in <0,255,0> on a white background.", "reasoning",
         {"colors": [(0, 255, 0)], "background": (255, 255, 255),
          "expressions": ["Which item here is used for cooking?"]}),
    ],
)
def test_router_free_text(text, task, spec):
    assert detect_task(text) == TaskRequest(task, spec)


@pytest.mark.parametrize(
    ("text", "has_image", "task"),
    [
        ("generate a picture of a cat", None, "t2i"),
        ("draw a castle at sunset", None, "t2i"),
        ("a photo of a dog on a beach", False, "t2i"),
        ("estimate the depth", False, "t2i"),  # no image: a vision task is impossible
        ("make the sky purple", True, "edit"),
        ("remove the car", None, "edit"),
        ("add a hat to the man", True, "edit"),
        ("draw a hat on the man", True, "edit"),
    ],
)
def test_router_generation(text, has_image, task):
    req = detect_task(text, has_image=has_image)
    assert req == TaskRequest(task, {"prompt": text})


def test_quoted_text_does_not_pick_the_task():
    req = detect_task('Highlight "the normal cup at depth two" in red')
    assert req.task == "referring" and req.spec["expressions"] == ["the normal cup at depth two"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello there", r"could not tell which task 'hello there' asks for; name one of: depth, instance"),
        ("semantic segmentation please", r"could not find any class -> colour mapping"),
        ("highlight the dog in blurple", r"unknown colour name 'blurple'"),
        ("   ", r"the instruction is empty"),
    ],
)
def test_router_errors(text, message):
    with pytest.raises(InstructionError, match=message):
        detect_task(text, has_image=True)


def test_router_type_error():
    with pytest.raises(TypeError, match="expected the instruction as str"):
        detect_task(None)


@pytest.mark.parametrize(
    ("text", "task", "asked"),
    [
        ("estimate the depth", "normals", "depth"),
        ("estimate the surface normals", "depth", "normals"),
        ("Semantic segmentation: the sky is #4682B4", "instance", "semantic"),
        ("segment the red car", "reasoning", "referring"),
        ("estimate the depth", "edit", "depth"),
        ("estimate the depth", "depth", None),
        ("the sky is #4682B4, the road is (128, 64, 128)", "semantic", None),  # names no task
        ("make the sofa blue", "edit", None),
        ("make the sofa blue", "semantic", None),  # an edit request names no vision task
        ('Question: "what cuts bread?" Highlight the answer in red.', "referring", None),  # fits both
        ('Highlight "the depth sensor" in red', "depth", "referring"),  # quoted words do not count
    ],
)
def test_task_conflict(text, task, asked):
    assert task_conflict(text, task) == asked


@pytest.mark.parametrize("task", TASKS.names())
def test_no_instruction_template_contradicts_its_own_task(task):
    for seed in range(100):
        rng = np.random.default_rng(seed)
        spec = _random_spec(task, rng)
        for text in (TASKS.get(task).instruction(rng, **spec), TASKS.get(task).instruction(None, **spec)):
            assert task_conflict(text, task) is None, text


def test_an_unclear_long_instruction_is_quoted_short():
    text = "please do the usual thing with this picture " * 20
    with pytest.raises(InstructionError) as err:
        detect_task(text, has_image=True)
    assert f"'{text[:80].rstrip()}…'" in str(err.value)
