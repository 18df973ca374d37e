"""DataLoader workers die with their trainer, however it dies (kill -9 included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openbanana.data.workers import exit_with_parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

# the training loop's own data stream (openbanana.training.loop.sample_stream) over 128 px toy
# samples: 8 prefetched per worker fill the 64 KiB result pipe, as real samples do
_TRAINER = """
import sys, time
from openbanana.data.training_sources import training_source
from openbanana.data import toy
from openbanana.training.loop import sample_stream
it = sample_stream(training_source("toy"), toy.ToyConfig(size=128), seed=0, rank=0, world_size=1, start=0, num_workers=2)
next(it)
print("ready", flush=True)
time.sleep(600)
"""

_POOL_OWNER = """
import multiprocessing as mp, os, time
from openbanana.data.workers import prepare_data_worker
pool = mp.get_context("fork").Pool(2, prepare_data_worker, (os.getpid(),))
pool.map(abs, range(4))
pending = pool.map_async(time.sleep, [600, 600], chunksize=1)  # both workers busy for 10 minutes
time.sleep(0.5)
print("ready", flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie is dead: it only waits for its new parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(p.name))
    return out


def _kill_parent_and_wait_for_children(code: str, n_children: int, within_s: float = 3.0) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    workers: list[int] = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        workers = _children(proc.pid)
        assert len(workers) >= n_children, workers
        time.sleep(1.0)  # let the workers fill their prefetch queues
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        left = [w for w in workers if _alive(w)]
        assert not left, f"workers {left} outlived their killed parent {proc.pid} by {within_s} s"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in workers:  # do not leave any behind when the test fails
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def test_dataloader_workers_die_with_a_killed_trainer():
    _kill_parent_and_wait_for_children(_TRAINER, 2)


def test_data_pool_workers_die_with_a_killed_owner():
    _kill_parent_and_wait_for_children(_POOL_OWNER, 2)


def test_exit_with_parent_arms_the_kernel_signal_on_linux():
    code = ("import os; from openbanana.data.workers import exit_with_parent; "
            "print(exit_with_parent(os.getppid()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("True" if sys.platform.startswith("linux") else "False")
    assert callable(exit_with_parent)
