"""`openbanana codes`: every colour code is drawn, decoded and checked, and the PNGs are written."""

import numpy as np
import pytest
from PIL import Image

from openbanana.cli import main
from openbanana.cli.codes import build_pictures, scene


def test_scene_is_consistent():
    sc = scene(64)
    assert sc["depth_m"].shape == (64, 64) and np.isfinite(sc["depth_m"]).all()
    assert (sc["depth_m"] > 0).all() and sc["depth_m"].max() <= 12.0
    np.testing.assert_allclose(np.linalg.norm(sc["normals"], axis=-1), 1.0, atol=1e-5)
    assert set(np.unique(sc["labels"])) == {0, 1, 2}
    assert (sc["labels"] == 2).sum() == (np.isin(sc["ids"], [1, 2])).sum()


@pytest.mark.slow  # ~5 s idle (matplotlib draws 13 figures)
def test_codes_command_writes_one_picture_per_code_and_a_sheet(tmp_path, capsys):
    main(["codes", "--out", str(tmp_path), "--size", "64"])
    names = {p.name for p in tmp_path.glob("*.png")}
    expected = {
        "depth_path",
        "depth_paper",
        "depth_plasma",
        "depth_inferno",
        "depth_viridis",
        "depth_grayscale",
        "normals_scene",
        "normals_sphere",
        "semantic",
        "instances",
        "referring",
        "codes",
    }
    assert names == {f"{n}.png" for n in expected}
    with Image.open(tmp_path / "codes.png") as im:
        assert im.size[0] > 600 and im.mode in ("RGB", "RGBA")
    out = capsys.readouterr().out
    assert "depth_paper" in out and "pixel accuracy" in out and "wrote 12 pictures" in out


def test_reported_errors_are_small():
    pics = {p["name"]: p for p in build_pictures(size=64)}
    assert "100.00%" in pics["semantic"]["errors"][0]
    assert pics["referring"]["errors"][0].startswith("exact: True")
    assert pics["depth_path"]["image"].shape == (60, 1786, 3)
