"""The public encode/decode surface: every registered task, unknown tasks, the top-level names."""

from __future__ import annotations

import numpy as np
import pytest

import openbanana
from openbanana import tasks


def test_registry_and_top_level_names():
    assert tasks.TASKS.names() == ["depth", "instance", "normals", "reasoning", "referring", "semantic"]
    assert openbanana.encode is tasks.encode and openbanana.decode is tasks.decode
    assert openbanana.parse_palette is tasks.parse_palette
    for name, task in tasks.TASKS.items():
        assert isinstance(task, tasks.Task) and task.name == name and task.description and task.keywords


def test_unknown_task_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown task 'segmentation'; expected one of: depth, instance, normals"):
        openbanana.encode("segmentation", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="unknown task"):
        openbanana.decode("t2i", np.zeros((2, 2, 3), np.uint8))


def test_batched_encode_decode():
    labels = np.array([[[0, 1]], [[1, 255]]])
    rgb = openbanana.encode("semantic", labels, palette={"a": "red", "b": "blue"})
    assert rgb.shape == (2, 1, 2, 3)
    np.testing.assert_array_equal(openbanana.decode("semantic", rgb, palette={"a": "red", "b": "blue"}).value, labels)


# one spec per task that encodes a (2, 3) answer of its kind
_ANSWERS = {
    "depth": (np.full((2, 3), 2.5, np.float32), {}),
    "normals": (np.tile(np.array([0, 0, 1], np.float32), (2, 3, 1)), {}),
    "semantic": (np.array([[0, 1, 0], [1, 0, 1]]), {"palette": {"a": "red", "b": "blue"}}),
    "instance": (np.array([[0, 1, 1], [0, 0, 0]]), {}),
    "referring": (np.array([[[True, False, False], [False, False, False]]]), {}),
    "reasoning": (np.array([[[False, True, False], [False, False, False]]]), {}),
}


@pytest.mark.parametrize("name", tasks.task_names())
def test_decode_returns_one_shape_of_result_for_every_task(name):
    target, spec = _ANSWERS[name]
    answer = openbanana.decode(name, openbanana.encode(name, target, **spec), **spec)
    task = tasks.TASKS.get(name)
    assert isinstance(answer, tasks.Answer) and answer.task == name and answer.kind == task.answer_kind
    assert answer.kind in tasks.ANSWER_KINDS and tasks.answer_kind(name, answer.value) == answer.kind
    assert answer.value.shape == target.shape
    assert (answer.valid is not None) == (name == "normals")


def test_task_lists_follow_the_declared_order():
    assert tasks.task_names() == ("depth", "normals", "semantic", "instance", "referring", "reasoning")
    assert tasks.task_names(dense=True) == tasks.task_names() and tasks.task_names(dense=False) == ()
    assert tasks.GENERATION_TASKS == tasks.generation_task_names() == ("t2i", "edit")
    assert [tasks.GENERATION.get(n).needs_image for n in tasks.GENERATION_TASKS] == [False, True]
    assert [n for n in tasks.task_names() if tasks.TASKS.get(n).needs_instruction] == ["referring", "reasoning"]


def test_answer_kind_of_unregistered_tasks_is_read_from_the_array():
    assert tasks.answer_kind("t2i", None) is None
    assert tasks.answer_kind("my-task", np.zeros((2, 2), np.float32)) == "depth"
    assert tasks.answer_kind("my-task", np.zeros((2, 2), bool)) is None


def test_a_task_must_declare_its_answer_kind():
    class NoKind(tasks.Task):
        name = "no-kind"

        def encode(self, target, **spec):
            return target

        def decode(self, rgb, **spec):
            return self.answer(rgb)

        def instruction(self, rng=None, **spec):
            return "nothing"

    with pytest.raises(TypeError, match="answer_kind must be one of"):
        tasks.register_task(NoKind)
    assert "no-kind" not in tasks.TASKS


@pytest.mark.parametrize("name", tasks.task_names())
def test_unmirror_undoes_itself_and_only_mirrorable_tasks_have_it(name):
    target, spec = _ANSWERS[name]
    rgb = openbanana.encode(name, target, **spec)
    task = tasks.TASKS.get(name)
    assert task.mirrorable == (name in ("depth", "normals"))  # instance colours and "left" words do not mirror
    if task.mirrorable:
        once = task.unmirror(rgb, **spec)
        assert once.shape == rgb.shape and once.dtype == np.uint8
        np.testing.assert_array_equal(task.unmirror(once, **spec), rgb)
    else:
        with pytest.raises(ValueError, match=f"task '{name}' is not mirrorable"):
            task.unmirror(rgb, **spec)
