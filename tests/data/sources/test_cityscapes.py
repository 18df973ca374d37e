import numpy as np
import pytest
from PIL import Image

from openbanana.data.sources.cityscapes import LABEL_TO_TRAIN, PALETTE, CityscapesSource
from openbanana.data.sources.fixtures import write_cityscapes
from openbanana.errors import DataLayoutError


def test_reads_official_layout_and_maps_to_train_ids(tmp_path):
    labels = write_cityscapes(tmp_path, n=3)
    src = CityscapesSource(tmp_path)
    assert len(src) == 3
    recs = [src[i] for i in range(3)]
    # sorted by city then name: frankfurt, lindau, munster == write order here
    for rec, lab in zip(recs, labels):
        t = rec.targets[0]
        assert t.task == "semantic" and rec.image.shape == (32, 64, 3)
        np.testing.assert_array_equal(t.gt, LABEL_TO_TRAIN[lab])
        assert set(np.unique(t.gt)) <= set(range(19)) | {255}
        assert t.spec["palette"] == PALETTE and len(PALETTE) == 19
    assert LABEL_TO_TRAIN[7] == 0 and LABEL_TO_TRAIN[33] == 18 and LABEL_TO_TRAIN[0] == 255
    assert recs[0].id == "frankfurt_000000_000019"


def test_matches_cityscapesscripts_label_table():
    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    for lab in labels.labels:
        if 0 <= lab.id < 256:
            want = lab.trainId if 0 <= lab.trainId < 19 else 255
            assert LABEL_TO_TRAIN[lab.id] == want, lab.name
            if want != 255:
                assert PALETTE[lab.name] == tuple(lab.color)


def test_missing_dirs_and_files(tmp_path):
    with pytest.raises(DataLayoutError, match="leftImg8bit"):
        CityscapesSource(tmp_path)
    write_cityscapes(tmp_path, n=2)
    gt = next((tmp_path / "gtFine" / "val").glob("*/*_labelIds.png"))
    gt.unlink()
    src = CityscapesSource(tmp_path)
    errors = []
    for i in range(len(src)):
        try:
            src[i]
        except DataLayoutError as e:
            errors.append(str(e))
    assert len(errors) == 1 and "gtFine_labelIds" in errors[0] and "does not exist" in errors[0]


def test_size_mismatch_and_wrong_mode(tmp_path):
    write_cityscapes(tmp_path, n=1)
    gt = next((tmp_path / "gtFine" / "val").glob("*/*_labelIds.png"))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(gt)
    with pytest.raises(DataLayoutError, match=r"image's size \(32, 64\)"):
        CityscapesSource(tmp_path)[0]
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(gt)
    with pytest.raises(DataLayoutError, match="single-channel"):
        CityscapesSource(tmp_path)[0]
