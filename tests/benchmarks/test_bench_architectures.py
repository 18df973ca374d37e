"""The architecture benchmark (benchmarks/bench_architectures.py) builds every family's sizes and
measures a real training step and a real one-step inference."""

import math
import sys
from pathlib import Path

import pytest

from openbanana.backends.jit import JiTBackend
from openbanana.backends.tiny import TinyBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_architectures import build, measure


def test_build_finds_each_family_and_refuses_unknown_sizes():
    assert type(build("tiny-xs")) is TinyBackend
    assert type(build("jit-xs")) is JiTBackend
    with pytest.raises(SystemExit, match="unknown size 'fold-xxl'.*jit-s"):
        build("fold-xxl")


def test_measure_a_transformer_size():
    row = measure("jit-xs", resolution=16, batch=2, min_s=0.0)
    assert 0.5 < row["params_m"] < 2.0
    assert row["gflop"] > 0 and row["train_ips"] > 0 and math.isfinite(row["infer_ms"]) and row["infer_ms"] > 0
