"""`openbanana demo`: every task on a bundled example, one sheet, scores against ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openbanana.cli import main
from openbanana.cli.demo import DEMO_TASKS, _decode_truth, _ground_truth, _scene_for, task_panels
from openbanana.io.images import load_image
from openbanana.pipeline import Prediction, default_spec
from openbanana.server.app import example_images

PANELS = ["model drew", "truth, same code", "decoded", "truth, same view"]


def test_demo_writes_a_sheet_with_a_row_per_task(model_dir, tmp_path, capsys):
    main(["demo", "--model", str(model_dir), "--n", "1", "--out", str(tmp_path)])
    sheets = sorted(tmp_path.glob("*.demo.png"))
    assert len(sheets) == 1
    sheet = np.asarray(Image.open(sheets[0]))
    # one row of 128-px panels (+ title strip and padding) per task, five panels wide
    assert sheet.shape[0] >= len(DEMO_TASKS) * 128
    assert sheet.shape[1] >= 5 * 128
    out = capsys.readouterr().out
    for task in DEMO_TASKS:
        assert task in out
    assert "delta1" in out and "mean angle" in out


def test_examples_map_back_to_their_scene_and_ground_truth():
    example = next(p for p in example_images() if "val_" in p)
    from pathlib import Path

    from openbanana.io.images import load_image

    scene = _scene_for(Path(example))
    image = load_image(example)
    # the bundled PNG is exactly the rendered scene
    assert np.array_equal(scene.rgb, image)
    gt = _ground_truth("depth", scene, -1)
    assert gt.shape == image.shape and gt.dtype == np.uint8
    target = scene.referring[0][1]
    mask = _ground_truth("referring", scene, target)
    assert (mask.any(axis=-1) == (scene.instance == target)).all()


def _perfect(task: str):
    """A bundled example, its truth in the task's colour code, and the prediction of a model that
    drew exactly that."""
    example = Path(next(p for p in example_images() if "val_" in p))
    scene, image = _scene_for(example), load_image(example)
    expr, target = scene.referring[0]
    truth = _ground_truth(task, scene, target if task == "referring" else -1)
    spec = {"expressions": [expr]} if task == "referring" else default_spec(task)
    answer, valid = _decode_truth(task, truth, spec)
    valid = np.ones(image.shape[:2], bool) if valid is None else valid
    pred = Prediction(task=task, instruction="", generated=truth, raw=truth, answer=answer, valid=valid, spec=spec)
    return image, truth, pred


@pytest.mark.parametrize("task", DEMO_TASKS)
def test_a_perfect_answer_looks_exactly_like_the_truth(task):
    image, truth, pred = _perfect(task)
    panels = task_panels(task, pred, image, truth)
    assert [t for t, _ in panels] == [f"input ({task})", *PANELS]
    views = dict(panels)
    np.testing.assert_array_equal(views["model drew"], views["truth, same code"])
    np.testing.assert_array_equal(views["decoded"], views["truth, same view"])


def test_depth_answer_and_truth_share_one_colour_scale():
    image, truth, pred = _perfect("depth")
    w = image.shape[1]
    pred.answer = pred.answer.copy()
    pred.answer[:, : w // 2] = 0.5  # the left half wrong: all near
    views = dict(task_panels("depth", pred, image, truth))
    right = slice(w // 2 + 1, None)
    np.testing.assert_array_equal(views["decoded"][:, right], views["truth, same view"][:, right])
    assert not np.array_equal(views["decoded"][:, : w // 2], views["truth, same view"][:, : w // 2])


def test_without_a_truth_only_the_models_panels_are_drawn():
    image, _, pred = _perfect("normals")
    assert [t for t, _ in task_panels("normals", pred, image, None)] == ["input (normals)", "model drew", "decoded"]
