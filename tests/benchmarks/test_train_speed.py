"""Training throughput measurement (benchmarks/train_speed.py): a real training step of a backend, timed."""

import math
import sys
from pathlib import Path

import pytest
import torch

from openbanana.backends.tiny import SIZES, TinyBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from train_speed import default_backend_config, measure_train_images_per_second, time_call


def test_measures_real_training_steps_of_the_given_backend():
    torch.manual_seed(0)
    model = TinyBackend(SIZES.get("tiny-xs")())
    before = [p.detach().clone() for p in model.parameters()]
    ips = measure_train_images_per_second(16, batch=2, backend=model, min_s=0.0)
    assert math.isfinite(ips) and ips > 0
    changed = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert changed > len(before) // 2  # AdamW stepped (2 warm-up + at least 2 timed steps)


def test_default_backend_config_is_the_shipped_architecture():
    cfg = default_backend_config()
    assert "backend" not in cfg and cfg["channels"] > 0
    model = TinyBackend.from_config(cfg)
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_time_call_repeats_at_least_twice():
    calls = []
    t = time_call(lambda: calls.append(1), torch.device("cpu"), min_s=0.0, warmup=1)
    assert len(calls) == 3 and t >= 0


@pytest.mark.parametrize("kw", [{"size": 8}, {"batch": 0}, {"min_s": -1.0}])
def test_bad_arguments(kw):
    args = {"size": 16, "batch": 1, "min_s": 0.0, **kw}
    with pytest.raises(ValueError):
        measure_train_images_per_second(args.pop("size"), **args)
