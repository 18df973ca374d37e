"""scripts/scale_probe.py: predictors of a scene's log median depth, and what they buy a depth map."""

from __future__ import annotations

import json

import numpy as np
import pytest
from micro_pipeline import micro_pipeline
from script_loader import load_script

from openbanana.data.synthetic.generate import render_scene

scale_probe = load_script("scale_probe")


def test_ridge_recovers_a_linear_relation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ np.array([0.5, -1.0, 0.0, 2.0, 0.3]) + 1.5
    fit = scale_probe.ridge(x, y, lam=1e-6)
    assert np.allclose(scale_probe.ridge_predict(fit, x[:7]), y[:7], atol=1e-5)
    shrunk = scale_probe.ridge(x, y, lam=1e6)  # a huge penalty leaves the mean
    assert np.allclose(scale_probe.ridge_predict(shrunk, x), y.mean(), atol=0.05)


def records(n: int, size: int = 16) -> list[dict]:
    return [scale_probe._scene_record((i, "val", size)) for i in range(n)]


def test_scene_record_is_the_valid_pixels_log_median():
    rec = records(1)[0]
    sc = render_scene(0, split="val", size=16, language=False)
    assert np.array_equal(rec["rgb"], sc.rgb) and rec["kind"] == sc.kind
    d = sc.depth_m[np.isfinite(sc.depth_m) & (sc.depth_m > 1e-3)]
    assert rec["log_median"] == pytest.approx(np.log(np.median(d[d < 80.0])), abs=1e-6)


def test_rescaling_to_the_true_median_fixes_a_map_that_is_only_off_in_scale():
    recs = records(3)
    maps = [np.where(np.isfinite(r["depth_m"]), 3 * r["depth_m"], 1.0).astype(np.float32) for r in recs]
    truth = np.array([r["log_median"] for r in recs])
    assert scale_probe.rescaled_delta1(maps, recs, None) == [0.0, 0.0, 0.0]  # three times too far
    assert scale_probe.rescaled_delta1(maps, recs, truth) == pytest.approx([1.0, 1.0, 1.0])
    rows = scale_probe.score("oracle", truth, recs, maps)
    assert rows[0] == {"predictor": "oracle", "kind": "all", "n": 3, "r2": 1.0, "rms_log": 0.0, "delta1": 1.0}
    off = scale_probe.score("off", truth + np.log(2.0), recs, maps)[0]
    assert off["rms_log"] == pytest.approx(np.log(2.0), abs=1e-3) and off["delta1"] == 0.0


def test_regressor_trains_and_predicts_finite_log_medians():
    recs = records(8)
    predict, steps = scale_probe.train_regressor(recs, minutes=0.02)
    assert steps >= 1
    out = predict(recs[:3])
    assert out.shape == (3,) and np.isfinite(out).all()


def test_command_line(tmp_path, capsys):
    model = micro_pipeline(resolution=16).save_pretrained(tmp_path / "model")
    argv = ["--model", str(model), "--n", "4", "--train", "16", "--minutes", "0.01", "--workers", "1"]
    assert scale_probe.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert {r["predictor"].split(" ")[0] for r in rows} == {"constant", "model's", "linear", "CNN", "oracle"}
    oracle = next(r for r in rows if r["predictor"].startswith("oracle") and r["kind"] == "all")
    assert oracle["n"] == 4 and oracle["r2"] == 1.0
    assert any(line.startswith("| oracle (true median) | all | 4 |") for line in lines)
    from openbanana.backends.jit import JiTBackend
    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.pipeline_config import PipelineConfig

    jit = OpenBananaPipeline(JiTBackend.from_config({"size": "jit-xs"}), PipelineConfig(backend="jit", resolution=16)
                             ).save_pretrained(tmp_path / "jit")
    for bad in (["--n", "2"], ["--train", "8"], ["--model", str(tmp_path)], ["--model", str(jit)]):
        with pytest.raises(SystemExit) as e:
            scale_probe.main(bad)
        assert e.value.code == 2
