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
    np.testing.assert_array_equal(openbanana.decode("semantic", rgb, palette={"a": "red", "b": "blue"}), labels)
