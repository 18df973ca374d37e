"""Every registered benchmark runs end to end: files in the official layout (fixtures) or the
synthetic world, prompts from the task registry, the oracle model, known answers."""

import numpy as np
import pytest

from openbanana.data.sources.fixtures import fixture_writers
from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
from openbanana.evaluation.model import OracleModel
from openbanana.evaluation.runner import EvalOptions, evaluate

FILE_BENCHMARKS = [n for n, b in BENCHMARKS.items() if b.data_dir is not None]
WRITER_FOR = {  # benchmarks that share a data set share its fixture writer
    "diode-indoor-normals": "diode-indoor",
    "dsine-scannet": "dsine-nyuv2",
    "dsine-ibims1": "dsine-nyuv2",
}
NEEDS = {"cityscapes": "cityscapesscripts", "refcocog": "pycocotools"}


@pytest.mark.parametrize("name", FILE_BENCHMARKS)
def test_oracle_scores_perfectly_on_every_file_benchmark(name, tmp_path):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    bench = BENCHMARKS.get(name)
    writer = fixture_writers()[WRITER_FOR.get(name, name)]
    kwargs = {"pickle_refs": False} if name == "refcocog" else {}
    writer(tmp_path / bench.data_dir, **kwargs)
    opts = EvalOptions(data_root=tmp_path, benchmark=BenchmarkOptions(workdir=tmp_path / "work"))
    src = bench.source(tmp_path, opts.benchmark)
    res, _ = evaluate(OracleModel(src), bench, opts, source=src)
    assert res["n_failed"] == 0, res["failures"]
    assert res["n_images"] == len(src) >= 1
    for task in bench.tasks:
        m = res["metrics"][task]
        if task == "depth":
            assert m["delta1"] == 1.0 and m["abs_rel"] < 5e-3  # 8-bit colour code precision (up to 80 m)
        elif task == "normals":
            assert m["mean"] < 0.5  # degrees
        elif task == "semantic":
            assert m["miou"] == 1.0
        else:
            assert m["ciou"] == 1.0 and m["giou"] == 1.0
    assert all(res["prompts"][t] for t in bench.tasks)


@pytest.mark.parametrize("name", FILE_BENCHMARKS)
def test_missing_data_names_the_expected_layout(name, tmp_path):
    from openbanana.errors import DataLayoutError

    bench = BENCHMARKS.get(name)
    with pytest.raises(DataLayoutError):
        bench.source(tmp_path)
    with pytest.raises(DataLayoutError, match="--data-root"):
        bench.source(None)


@pytest.mark.slow
def test_synthetic_val_every_task_with_the_oracle():
    bench = BENCHMARKS.get("synthetic-val")
    opts = EvalOptions(limit=2, benchmark=BenchmarkOptions(synthetic_size=48))
    src = bench.source(None, opts.benchmark)
    res, _ = evaluate(OracleModel(src), bench, opts, source=src)
    assert res["n_failed"] == 0, res["failures"]
    m = res["metrics"]
    assert set(m) == {"depth", "normals", "semantic", "semantic-random", "instance", "referring", "reasoning"}
    assert m["depth"]["delta1"] == 1.0 and m["depth"]["abs_rel"] < 2e-3
    assert m["normals"]["mean"] < 0.5
    assert m["semantic"]["miou"] == 1.0
    assert m["semantic-random"]["miou"] == 1.0  # answers and ground truth both index the random palette
    assert m["referring"]["ciou"] == 1.0 and m["reasoning"]["giou"] == 1.0
    assert m["instance"]["f1"] == 1.0  # instances too small to decode are masked out of the score
    noisy, _ = evaluate(OracleModel(src, noise_sigma=12.0), bench, opts, source=src)
    assert noisy["metrics"]["depth"]["abs_rel"] > m["depth"]["abs_rel"]
    assert np.isfinite(noisy["metrics"]["normals"]["mean"])


def test_primitive_rooms_with_the_oracle_and_a_constant():
    bench = BENCHMARKS.get("primitive-rooms")
    assert bench.tasks == ("depth", "normals") and bench.data_dir is None
    opts = EvalOptions(limit=2, benchmark=BenchmarkOptions(synthetic_size=32))
    src = bench.source(None, opts.benchmark)
    res, _ = evaluate(OracleModel(src), bench, opts, source=src)
    assert res["n_failed"] == 0 and res["n_images"] == 2
    assert res["metrics"]["depth"]["delta1"] == 1.0 and res["metrics"]["normals"]["mean"] < 0.5
    far = OracleModel(src, transform=lambda task, gt: gt * 1.5 if task == "depth" else gt, through_code=False)
    res, _ = evaluate(far, bench, opts, source=src)
    assert res["metrics"]["depth"]["abs_rel"] == pytest.approx(0.5, abs=1e-6)  # every pixel 50 % too far
    assert res["metrics"]["depth"]["delta1"] == 0.0


def test_data_root_may_be_the_data_set_folder_itself(tmp_path):
    from openbanana.data.sources.fixtures import write_nyuv2
    from openbanana.errors import DataLayoutError

    write_nyuv2(tmp_path / "nyuv2", n=1)
    b = BENCHMARKS.get("nyuv2")
    assert len(b.source(tmp_path)) == 1
    assert len(b.source(tmp_path / "nyuv2")) == 1
    with pytest.raises(DataLayoutError, match="folder named 'nyuv2'"):
        b.source(tmp_path / "nyuv2" / "test")


def test_random_palette_scores_map_palette_labels_to_classes():
    """A semantic answer indexes the instruction's palette; the scorer maps it to the class list, so a
    swapped answer scores 0 and the right one 1, whatever the palette's order."""
    from openbanana.data.sources.base import Target
    from openbanana.evaluation.scoring import SemanticScorer

    classes = ["floor", "wall", "chair"]
    palette = {"chair": (10, 200, 30), "floor": (200, 10, 10)}  # palette index 0 = chair, 1 = floor
    gt = np.array([[1, 1, 0, 0]], np.uint8)  # palette indices: floor, floor, chair, chair
    good, bad = SemanticScorer(classes), SemanticScorer(classes)
    good.update(0, Target(task="semantic", gt=gt, spec={"palette": palette}), gt.astype(np.int32))
    bad.update(0, Target(task="semantic", gt=gt, spec={"palette": palette}), (1 - gt).astype(np.int32))
    assert good.compute()["iou_per_class"]["chair"] == 1.0 and good.compute()["iou_per_class"]["floor"] == 1.0
    assert bad.compute()["iou_per_class"]["chair"] == 0.0
    assert np.isnan(good.compute()["iou_per_class"]["wall"])  # absent everywhere: not averaged in
