"""The harness end to end on fixtures in the official layouts, with oracle models of known answers."""

import json

import numpy as np
import pytest

from openbanana.data.sources.fixtures import write_cityscapes, write_nyuv2, write_refcocog
from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
from openbanana.evaluation.distributed import load_partial, save_partial
from openbanana.evaluation.model import OracleModel
from openbanana.evaluation.runner import VOLATILE_KEYS, EvalOptions, evaluate, finalize, run_partial


def _opts(root, **kw):
    return EvalOptions(data_root=root, benchmark=BenchmarkOptions(workdir=root / "work"), **kw)


@pytest.fixture
def nyu(tmp_path):
    depths = write_nyuv2(tmp_path / "nyuv2", n=3)
    return tmp_path, depths


def test_depth_ten_percent_far_gives_absrel_point_one(nyu):
    root, _ = nyu
    b = BENCHMARKS.get("nyuv2")
    src = b.source(root)
    far = OracleModel(src, transform=lambda task, gt: gt * 1.1, through_code=False)
    res, _ = evaluate(far, b, _opts(root), source=src)
    m = res["metrics"]["depth"]
    assert m["abs_rel"] == pytest.approx(0.1, abs=1e-6)
    assert m["delta1"] == 1.0
    assert res["n_images"] == 3 and res["n_failed"] == 0
    # through the colour code the same error survives 8-bit quantisation
    res_code, _ = evaluate(OracleModel(src, transform=lambda t, g: g * 1.1), b, _opts(root), source=src)
    assert res_code["metrics"]["depth"]["abs_rel"] == pytest.approx(0.1, abs=2e-3)


def test_depth_metrics_equal_an_independent_computation(nyu):
    root, depths = nyu
    b = BENCHMARKS.get("nyuv2")
    src = b.source(root)
    res, _ = evaluate(OracleModel(src, generation_size=(240, 320)), b, _opts(root, limit=2), source=src)
    import openbanana

    absrels = []
    for d in depths[:2]:
        small = d[1::2, 1::2]  # nearest downsample at half size picks the odd pixels
        dec = openbanana.decode("depth", openbanana.encode("depth", small)).value
        up = np.asarray(
            __import__("torch").nn.functional.interpolate(
                __import__("torch").from_numpy(dec)[None, None],
                size=(480, 640),
                mode="bilinear",
                align_corners=False,
            )[0, 0]
        )
        crop = np.zeros_like(d, bool)
        crop[45:471, 41:601] = True
        v = crop & (d > 1e-3) & (d < 10)
        p = np.clip(up[v], 1e-3, 10.0)
        absrels.append(np.mean(np.abs(p - d[v]) / d[v]))
    assert res["metrics"]["depth"]["abs_rel"] == pytest.approx(np.mean(absrels), rel=1e-5)
    assert res["n_images"] == 2 and res["limit"] == 2


def test_cityscapes_oracle_is_perfect_and_scored_officially(tmp_path):
    pytest.importorskip("cityscapesscripts")
    write_cityscapes(tmp_path / "cityscapes", n=3)
    b = BENCHMARKS.get("cityscapes")
    src = b.source(tmp_path)
    res, _ = evaluate(OracleModel(src, noise_sigma=3.0), b, _opts(tmp_path), source=src)
    m = res["metrics"]["semantic"]
    assert m["miou"] == 1.0 and m["miou_openbanana"] == 1.0
    assert len(res["prompts"]["semantic"]) == 1  # one fixed prompt for the whole split
    assert "traffic light: (250, 170, 30)" in res["prompts"]["semantic"][0]
    # a model that always answers "road" gets road's IoU only
    road = OracleModel(src, transform=lambda t, g: np.zeros_like(g), through_code=False)
    res_r, _ = evaluate(road, b, _opts(tmp_path), source=src)
    labels = [np.asarray(src[i].targets[0].gt) for i in range(3)]
    scored = np.concatenate([g[g != 255] for g in labels])
    assert res_r["metrics"]["semantic"]["miou"] == pytest.approx(np.mean(scored == 0) / 19, abs=1e-9)


def test_refcocog_oracle_and_failures_are_counted(tmp_path):
    pytest.importorskip("pycocotools")
    write_refcocog(tmp_path / "refcoco", pickle_refs=False)
    b = BENCHMARKS.get("refcocog")
    src = b.source(tmp_path)
    res, _ = evaluate(OracleModel(src), b, _opts(tmp_path), source=src)
    assert res["metrics"]["referring"] == {"ciou": 1.0, "giou": 1.0, "n": 4}
    (tmp_path / "refcoco" / "images" / "train2014" / "COCO_train2014_000000000202.jpg").unlink()
    res2, _ = evaluate(OracleModel(src), b, _opts(tmp_path), source=src)
    assert res2["n_failed"] == 1 and res2["metrics"]["referring"]["n"] == 3
    f = res2["failures"][0]
    assert f["stage"] == "load" and f["id"] == "coco202" and "COCO_train2014_000000000202.jpg" in f["error"]


def test_model_errors_are_counted_not_dropped(nyu):
    root, _ = nyu
    b = BENCHMARKS.get("nyuv2")
    src = b.source(root)

    def broken(task, gt):
        if gt.mean() > 0:  # every image: NaN everywhere
            return np.full_like(gt, np.nan)
        return gt

    res, _ = evaluate(OracleModel(src, transform=broken, through_code=False), b, _opts(root), source=src)
    assert res["n_failed"] == 3 and "depth" not in res["metrics"]
    assert all(f["stage"] == "score" and "NaN" in f["error"] for f in res["failures"])


def test_two_processes_equal_one(nyu, tmp_path):
    root, _ = nyu
    b = BENCHMARKS.get("nyuv2")
    src = b.source(root)
    opts = _opts(root)
    model = OracleModel(src, noise_sigma=3.0, generation_size=(120, 160))
    single, _ = evaluate(model, b, opts, source=src)
    parts = []
    for rank in range(2):
        p = run_partial(model, b, src, opts, rank=rank, world=2)
        parts.append(load_partial(save_partial(p, tmp_path / f"p{rank}.npz"), b, opts))
    merged = finalize(b, parts, opts, n_total=3)
    for k in VOLATILE_KEYS:
        single.pop(k)
        merged.pop(k)
    assert json.dumps(single, sort_keys=True) == json.dumps(merged, sort_keys=True)


class _RecordingOracle(OracleModel):
    """The oracle, keeping the instruction and keywords of every call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def predict(self, image, instruction=None, task="depth", **spec):
        self.calls.append((instruction, spec))
        return super().predict(image, instruction, task, **spec)


def test_model_kwargs_reach_the_model_and_the_result(nyu):
    root, _ = nyu
    b = BENCHMARKS.get("nyuv2")
    src = b.source(root)
    model = _RecordingOracle(src)
    res, _ = evaluate(model, b, _opts(root, limit=1, model_kwargs={"ensemble_size": 3}), source=src)
    assert [spec.get("ensemble_size") for _, spec in model.calls] == [3] and res["protocol"]["model_kwargs"] == {"ensemble_size": 3}
    assert res["metrics"]["depth"]["delta1"] == 1.0  # the oracle ignores sampling keywords


def test_task_spec_replaces_the_targets_spec_in_prompt_and_decoding(nyu):
    root, _ = nyu
    b = BENCHMARKS.get("nyuv2")
    src = b.source(root)
    model = _RecordingOracle(src)
    opts = _opts(root, limit=1, task_spec={"depth": {"colormap": "grayscale"}})
    res, _ = evaluate(model, b, opts, source=src)
    (instruction, spec), = model.calls
    cmap = spec.get("colormap")
    assert cmap == "grayscale" and instruction.endswith("Use the grayscale colormap.")
    assert res["protocol"]["task_spec"] == {"depth": {"colormap": "grayscale"}}
    plain, _ = evaluate(OracleModel(src), b, _opts(root, limit=1), source=src)
    assert "task_spec" not in plain["protocol"]
    # the oracle's answer went through the 8-bit grayscale code: coarser than the paper's path
    assert 0.9 < res["metrics"]["depth"]["delta1"] <= 1.0
    assert res["metrics"]["depth"]["abs_rel"] > plain["metrics"]["depth"]["abs_rel"]
