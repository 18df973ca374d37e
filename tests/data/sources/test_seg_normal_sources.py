"""DSINE normal sets and ReasonSeg adapters on fixtures in their official layouts."""

import json

import numpy as np
import pytest

from openbanana.data.sources.dsine import DSINESource
from openbanana.data.sources.fixtures import write_dsine, write_reasonseg
from openbanana.data.sources.reasonseg import ReasonSegSource
from openbanana.errors import DataLayoutError


def test_dsine_png_decoding_frame_and_mask(tmp_path):
    pngs = write_dsine(tmp_path / "nyuv2", n=2)
    src = DSINESource(tmp_path / "nyuv2", name="nyuv2")
    assert len(src) == 2 and src.expected_len == 654
    t = src[0].targets[0]
    png = pngs[0]
    invalid = png.sum(-1) == 0
    np.testing.assert_array_equal(t.valid, ~invalid)
    n_dsine = png.astype(np.float64) / 255 * 2 - 1
    n_dsine /= np.linalg.norm(n_dsine, axis=-1, keepdims=True) + 1e-12
    np.testing.assert_allclose(t.gt[~invalid], (n_dsine * [1, -1, 1])[~invalid], atol=1e-5)
    assert np.all(t.gt[~invalid][:, 2] >= -0.01)  # facing the camera: +z in both frames
    assert src[1].id == "scene0001_00/000001"


def test_dsine_missing_normal_file(tmp_path):
    write_dsine(tmp_path, n=1)
    next(tmp_path.rglob("*_normal.png")).unlink()
    with pytest.raises(DataLayoutError, match="_normal.png"):
        DSINESource(tmp_path)[0]


def test_reasonseg_polygons_ignore_and_flag(tmp_path):
    write_reasonseg(tmp_path, n=2)
    src = ReasonSegSource(tmp_path)
    rec = src[0]
    t = rec.targets[0]
    assert t.task == "reasoning" and t.spec["expressions"] == ["what could hold water in picture 0?"]
    m, v = t.gt[0], t.valid
    assert m[20, 20] and not m[5, 35]
    assert not v[14, 14] and not m[14, 14]  # ignore polygon drawn over the target (smaller area, later)
    assert not m[2, 2]  # the flag polygon is skipped
    assert m.sum() == 21 * 16 - 25  # filled rectangle incl. outline, minus the 5x5 ignore square


def test_reasonseg_bad_json(tmp_path):
    write_reasonseg(tmp_path, n=1)
    jp = next((tmp_path / "val").glob("*.json"))
    jp.write_text(json.dumps({"text": [], "shapes": []}))
    with pytest.raises(DataLayoutError, match="'text'"):
        ReasonSegSource(tmp_path)[0]
    jp.write_text(
        json.dumps({"text": ["q?"], "shapes": [{"label": "flag", "points": [[0, 0], [3, 0], [3, 3]]}]})
    )
    with pytest.raises(DataLayoutError, match="empty target mask"):
        ReasonSegSource(tmp_path)[0]


def test_dsine_reads_only_the_test_split_when_present(tmp_path):
    write_dsine(tmp_path / "nyuv2" / "test", n=2)
    write_dsine(tmp_path / "nyuv2" / "train", n=3, seed=1)
    src = DSINESource(tmp_path / "nyuv2", name="nyuv2")
    assert len(src) == 2 and all(src.record_id(i).startswith("test/") for i in range(2))
