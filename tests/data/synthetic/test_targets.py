"""The scene target registry: every task has one, and each protocol's truth is the scene's."""

from __future__ import annotations

import numpy as np
import pytest

import openbanana
from openbanana.data.mixture import MixtureConfig
from openbanana.data.synthetic import render_scene
from openbanana.data.synthetic.targets import SCENE_TARGETS, canonical_instance_order, palette_labels
from openbanana.tasks import TASKS, task_names


@pytest.fixture(scope="module")
def scene():
    return render_scene(3, split="val", size=48)


def test_every_task_has_a_scene_target():
    assert set(SCENE_TARGETS.names()) == set(task_names())


@pytest.mark.parametrize("task", task_names())
def test_training_targets_decode_to_what_the_spec_asks(task, scene):
    rng = np.random.default_rng(0)
    t = SCENE_TARGETS.get(task).train(scene, rng, MixtureConfig(size=48))
    assert t is not None and t.task == task
    rgb = t.draw()
    assert rgb.shape == (48, 48, 3) and rgb.dtype == np.uint8
    decoded = openbanana.decode(task, rgb, **t.spec)
    assert decoded.kind == TASKS.get(task).answer_kind
    assert TASKS.get(task).instruction(None, **t.spec)  # the spec is one the instruction can state


@pytest.mark.parametrize("task", task_names())
def test_benchmark_targets_belong_to_their_task(task, scene):
    targets = SCENE_TARGETS.get(task).benchmark(scene, 3, "val")
    assert targets and all(t.task == task for t in targets)
    assert len({t.key for t in targets}) == len(targets)  # keys are unique within a record


def test_semantic_truth_indexes_the_palette_it_is_asked_with(scene):
    palette = {"floor": (10, 20, 30), "wall": (200, 0, 0)}
    t = SCENE_TARGETS.get("semantic").truth(scene, {"palette": palette})
    np.testing.assert_array_equal(t.answer, palette_labels(scene.semantic, palette))
    assert set(np.unique(t.answer)) <= {0, 1, 255}


def test_mask_truth_of_a_phrase_is_its_objects(scene):
    expr, ids = SCENE_TARGETS.get("referring").phrases(scene)[0]
    t = SCENE_TARGETS.get("referring").truth(scene, {"expressions": [expr]})
    np.testing.assert_array_equal(t.answer[0], np.isin(scene.instance, ids))
    assert SCENE_TARGETS.get("referring").truth(scene, {"expressions": ["no such thing"]}) is None


def test_instance_truth_of_a_category_keeps_only_its_objects(scene):
    cls = next(o.class_name for o in scene.objects if (scene.instance == o.instance_id).any())
    t = SCENE_TARGETS.get("instance").truth(scene, {"category": cls})
    ids = {o.instance_id for o in scene.objects if o.class_name == cls}
    np.testing.assert_array_equal(t.answer > 0, np.isin(scene.instance, sorted(ids)))
    n = len(np.unique(scene.instance[np.isin(scene.instance, sorted(ids))]))
    assert set(np.unique(t.answer)) - {0} == set(range(1, n + 1))  # numbered 1..n, left to right


def test_instance_truth_is_drawn_the_way_training_draws_it(scene):
    cls = next(o.class_name for o in scene.objects if (scene.instance == o.instance_id).any())
    ids = sorted(o.instance_id for o in scene.objects if o.class_name == cls)
    spec = {"category": cls, "background": (0, 0, 0), **SCENE_TARGETS.get("instance").default_spec()}
    assert spec["scheme"] == "position"  # the scheme the shipped model was trained on
    t = SCENE_TARGETS.get("instance").truth(scene, spec)
    np.testing.assert_array_equal(t.answer, canonical_instance_order(scene.instance, ids))
    np.testing.assert_array_equal(t.draw(), openbanana.encode("instance", t.answer, scheme="position"))
    rank = SCENE_TARGETS.get("instance").truth(scene, {"category": cls}).draw()
    assert not np.array_equal(rank, t.draw())  # the scheme changes the colours, not the instances
    np.testing.assert_array_equal(rank.any(axis=-1), t.draw().any(axis=-1))
