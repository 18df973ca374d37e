"""`openbanana demo`: every task on a bundled example, one sheet, scores against ground truth."""

from __future__ import annotations

import numpy as np
from PIL import Image

from openbanana.cli import main
from openbanana.cli.demo import DEMO_TASKS, _ground_truth, _scene_for
from openbanana.server.app import example_images


def test_demo_writes_a_sheet_with_a_row_per_task(model_dir, tmp_path, capsys):
    main(["demo", "--model", str(model_dir), "--n", "1", "--out", str(tmp_path)])
    sheets = sorted(tmp_path.glob("*.demo.png"))
    assert len(sheets) == 1
    sheet = np.asarray(Image.open(sheets[0]))
    # one row of 128-px panels (+ title strip and padding) per task, four panels wide
    assert sheet.shape[0] >= len(DEMO_TASKS) * 128
    assert sheet.shape[1] >= 4 * 128
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
