"""Two real processes (torchrun + Accelerate, gloo on CPU) give the result of one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openbanana.data.sources.fixtures import write_nyuv2
from openbanana.evaluation.runner import VOLATILE_KEYS


@pytest.mark.slow
def test_two_gloo_processes_equal_one(tmp_path):
    pytest.importorskip("accelerate")
    write_nyuv2(tmp_path / "data" / "nyuv2", n=3)
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun not installed next to the interpreter")
    common = [
        "-m",
        "openbanana",
        "eval",
        "-b",
        "nyuv2",
        "--model",
        "oracle-noisy",
        "--data-root",
        str(tmp_path / "data"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [sys.executable, *common, "--out", str(tmp_path / "one")],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", *common, "--out", str(tmp_path / "two")],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-2000:]
    a = json.loads((tmp_path / "one" / "nyuv2.json").read_text())
    b = json.loads((tmp_path / "two" / "nyuv2.json").read_text())
    assert a["world_size"] == 1 and b["world_size"] == 2
    for k in VOLATILE_KEYS:
        a.pop(k)
        b.pop(k)
    assert a == b
