import numpy as np
import pytest

from openbanana.data.sources.fixtures import write_nyuv2
from openbanana.data.sources.nyuv2 import NYUv2Source
from openbanana.errors import DataLayoutError


def test_reads_extracted_eigen_split(tmp_path):
    depths = write_nyuv2(tmp_path, n=2)
    src = NYUv2Source(tmp_path)
    assert len(src) == 2 and src.expected_len == 654
    rec = src[1]
    t = rec.targets[0]
    assert rec.image.shape == (480, 640, 3) and t.task == "depth"
    np.testing.assert_allclose(t.gt, depths[1], rtol=0, atol=1e-6)
    assert t.valid.sum() == (471 - 45) * (601 - 41)
    assert t.valid[45, 41] and not t.valid[44, 41] and not t.valid[45, 601]
    assert rec.id == "bedroom/rgb_00008"


def test_bad_layouts(tmp_path):
    with pytest.raises(DataLayoutError, match="filename_list_test.txt"):
        NYUv2Source(tmp_path)
    write_nyuv2(tmp_path, n=1)
    (tmp_path / "filename_list_test.txt").write_text("only_one_column.png\n")
    with pytest.raises(DataLayoutError, match=":1: expected"):
        NYUv2Source(tmp_path)


def test_wrong_depth_dtype_is_named(tmp_path):
    from PIL import Image

    write_nyuv2(tmp_path, n=1)
    depth = next((tmp_path / "test").glob("*/depth_*.png"))
    Image.fromarray(np.zeros((480, 640), np.uint8)).save(depth)
    with pytest.raises(DataLayoutError, match="uint16"):
        NYUv2Source(tmp_path)[0]


def test_convert_official_mat_then_read(tmp_path):
    pytest.importorskip("h5py")
    from openbanana.data.sources.fixtures import write_nyu_official
    from openbanana.data.sources.nyuv2 import convert_nyu_mat

    truth = write_nyu_official(tmp_path / "official", n=3, test=(1, 3))
    n = convert_nyu_mat(
        tmp_path / "official" / "nyu_depth_v2_labeled.mat",
        tmp_path / "official" / "splits.mat",
        tmp_path / "nyuv2",
    )
    assert n == 2
    src = NYUv2Source(tmp_path / "nyuv2")
    rec = src[1]  # labeled index 3 -> i = 2
    assert rec.id == "kitchen_0002/rgb_00003"
    np.testing.assert_array_equal(rec.image, truth["rgb"][2])
    np.testing.assert_allclose(rec.targets[0].gt, truth["raw"][2], atol=5e-4)  # millimetre rounding
    assert (rec.targets[0].gt == 0).sum() == (truth["raw"][2] == 0).sum()


def test_convert_refuses_bad_files(tmp_path):
    pytest.importorskip("h5py")
    from scipy.io import savemat

    from openbanana.data.sources.fixtures import write_nyu_official
    from openbanana.data.sources.nyuv2 import convert_nyu_mat

    write_nyu_official(tmp_path, n=2, test=(1,))
    savemat(tmp_path / "bad_splits.mat", {"trainNdxs": np.array([[1.0]])})
    with pytest.raises(DataLayoutError, match="testNdxs"):
        convert_nyu_mat(tmp_path / "nyu_depth_v2_labeled.mat", tmp_path / "bad_splits.mat", tmp_path / "out")
    savemat(tmp_path / "far.mat", {"testNdxs": np.array([[5.0]])})
    with pytest.raises(DataLayoutError, match="outside 1..2"):
        convert_nyu_mat(tmp_path / "nyu_depth_v2_labeled.mat", tmp_path / "far.mat", tmp_path / "out")
