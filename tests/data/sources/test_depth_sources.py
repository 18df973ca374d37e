"""KITTI, DIODE, ETH3D and iBims-1 adapters on fixtures in their official layouts."""

import numpy as np
import pytest

from openbanana.data.sources.diode import DIODESource
from openbanana.data.sources.eth3d import ETH3DSource
from openbanana.data.sources.fixtures import write_diode, write_eth3d, write_ibims1, write_kitti
from openbanana.data.sources.ibims1 import IBims1Source
from openbanana.data.sources.kitti import KITTISource
from openbanana.errors import DataLayoutError


def test_kitti_reads_eigen_list_train_and_val_gt_and_skips_none_lines_with_a_note(tmp_path):
    depths = write_kitti(tmp_path, n=2)
    src = KITTISource(tmp_path)
    assert len(src) == 2 and src.expected_len == 652
    assert src.notes == [
        "1 lines of eigen_test_files_with_gt.txt have no ground truth (None) and are not evaluated"
    ]
    for i in range(2):
        t = src[i].targets[0]
        np.testing.assert_allclose(t.gt, depths[i], atol=1e-6)
        h, w = t.gt.shape
        assert t.valid[int(0.40810811 * h), int(0.03594771 * w)] and not t.valid[0, 0]
    assert src[0].id == "2011_09_26_drive_0002_sync/0000000069"


def test_kitti_missing_gt_names_file(tmp_path):
    write_kitti(tmp_path, n=2)
    gt = next((tmp_path / "data_depth_annotated" / "val").rglob("*.png"))
    gt.unlink()
    with pytest.raises(DataLayoutError, match="groundtruth.*does not exist"):
        KITTISource(tmp_path)[1]
    (tmp_path / "eigen_test_files_with_gt.txt").write_text("just_one_field.png\n")
    with pytest.raises(DataLayoutError, match=":1: expected"):
        KITTISource(tmp_path)
    with pytest.raises(DataLayoutError, match="eigen_test_files_with_gt.txt"):
        KITTISource(tmp_path / "nothing")


def test_diode_depth_and_normals(tmp_path):
    data = write_diode(tmp_path, n=2)
    src = DIODESource(tmp_path)
    t = src[1].targets[0]
    np.testing.assert_array_equal(t.gt, data[1]["depth"])
    np.testing.assert_array_equal(t.valid, data[1]["mask"])
    nsrc = DIODESource(tmp_path, task="normals")
    n = nsrc[0].targets[0].gt
    np.testing.assert_allclose(n * [1, -1, 1], data[0]["normal"], atol=1e-6)  # y flipped into the paper frame
    bad = next((tmp_path / "val" / "indoors" / "scene_00000").rglob("*_depth_mask.npy"))
    np.save(bad, np.ones((3, 3), np.float32))
    with pytest.raises(DataLayoutError, match=r"_depth_mask.npy: expected shape \(24, 32\)"):
        DIODESource(tmp_path)[0]


def test_diode_refuses_pickled_npy(tmp_path):
    write_diode(tmp_path, n=1)
    depth = next(tmp_path.rglob("*_depth.npy"))
    np.save(depth, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataLayoutError, match="numeric .npy"):
        DIODESource(tmp_path)[0]


def test_eth3d_raw_float_depth(tmp_path):
    depths = write_eth3d(tmp_path, n=2)
    src = ETH3DSource(tmp_path)
    assert len(src) == 2 and src.expected_len == 454
    gt = src[0].targets[0].gt
    want = np.where(np.isfinite(depths[0]), depths[0], 0)
    np.testing.assert_array_equal(gt, want)
    raw = next(tmp_path.rglob("ground_truth_depth/dslr_images/*.JPG"))
    raw.write_bytes(raw.read_bytes()[:-4])
    errs = []
    for i in range(2):
        try:
            src[i]
        except DataLayoutError as e:
            errs.append(str(e))
    assert len(errs) == 1 and "expected 20 x 30 float32 values" in errs[0]


def test_ibims_mat_fields_and_masks(tmp_path):
    fields = write_ibims1(tmp_path, n=2)
    src = IBims1Source(tmp_path)
    rec = src[1]
    np.testing.assert_array_equal(rec.image, fields[1]["rgb"])
    np.testing.assert_allclose(rec.targets[0].gt, fields[1]["depth"])
    want = (fields[1]["mask_invalid"] != 0) & (fields[1]["mask_transp"] != 0)
    np.testing.assert_array_equal(rec.targets[0].valid, want)
    from scipy.io import savemat

    savemat(tmp_path / "ibims1_core_mat" / "corridor_01.mat", {"data": {"rgb": fields[0]["rgb"]}})
    with pytest.raises(DataLayoutError, match="fields"):
        src[0]
