import json
import pickle

import pytest

from openbanana.data.sources.fixtures import write_refcocog
from openbanana.data.sources.refcocog import RefCOCOgSource, convert_refs
from openbanana.errors import DataLayoutError

pytest.importorskip("pycocotools")


def test_convert_once_then_read_json_only(tmp_path):
    info = write_refcocog(tmp_path)
    with pytest.raises(DataLayoutError, match="convert-refs"):
        RefCOCOgSource(tmp_path)
    n = convert_refs(tmp_path / "refcocog" / "refs(umd).p", tmp_path / "refcocog" / "refs_umd.json")
    assert n == 4
    (tmp_path / "refcocog" / "refs(umd).p").unlink()  # never needed again
    src = RefCOCOgSource(tmp_path)
    assert len(src) == 2  # images 101 and 202 (the train ref is not evaluated)
    rec0, rec1 = src[0], src[1]
    assert [t.key for t in rec0.targets] == ["1-10", "1-11", "2-20"]
    assert [t.key for t in rec1.targets] == ["3-30"]
    for rec in (rec0, rec1):
        for t in rec.targets:
            ref_id, sent_id = map(int, t.key.split("-"))
            assert t.spec["expressions"] == [info["sentences"][(ref_id, sent_id)]]
            x0, y0, x1, y1 = info["boxes"][ref_id]
            m = t.gt[0]
            assert m.shape == rec.image.shape[:2]
            # COCO polygon rasterisation covers the rectangle's interior
            assert m[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].all()
            assert not m[:, x1 + 2 :].any() and not m[y1 + 2 :].any()


def test_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    p = tmp_path / "refs(umd).p"
    p.write_bytes(pickle.dumps([{"a": Evil()}], protocol=2))
    with pytest.raises(DataLayoutError, match="print"):
        convert_refs(p, tmp_path / "out.json")
    p.write_bytes(pickle.dumps([{"ref_id": 1}], protocol=2))
    with pytest.raises(DataLayoutError, match="lacks"):
        convert_refs(p, tmp_path / "out.json")


def test_bad_layout_names_file(tmp_path):
    write_refcocog(tmp_path, pickle_refs=False)
    (tmp_path / "refcocog" / "instances.json").write_text("{not json")
    with pytest.raises(DataLayoutError, match="instances.json"):
        RefCOCOgSource(tmp_path)
    write_refcocog(tmp_path, pickle_refs=False)
    (tmp_path / "images" / "train2014" / "COCO_train2014_000000000101.jpg").unlink()
    src = RefCOCOgSource(tmp_path)
    with pytest.raises(DataLayoutError, match="does not exist"):
        src[0]
    refs = json.loads((tmp_path / "refcocog" / "refs_umd.json").read_text())
    for r in refs:
        r["split"] = "test"
    (tmp_path / "refcocog" / "refs_umd.json").write_text(json.dumps(refs))
    with pytest.raises(DataLayoutError, match="split 'val'"):
        RefCOCOgSource(tmp_path)


def test_empty_mask_is_a_layout_error_naming_the_annotation(tmp_path):
    write_refcocog(tmp_path, pickle_refs=False)
    inst = tmp_path / "refcocog" / "instances.json"
    doc = json.loads(inst.read_text())
    for a in doc["annotations"]:
        if a["id"] == 22:
            a["segmentation"] = [[100.0, 100.0, 101.0, 100.0, 101.0, 100.0]]  # outside the 20 x 24 image
    inst.write_text(json.dumps(doc))
    src = RefCOCOgSource(tmp_path)
    src[0]  # image 101 is fine
    with pytest.raises(DataLayoutError, match="annotation 22 .*empty mask"):
        src[1]
