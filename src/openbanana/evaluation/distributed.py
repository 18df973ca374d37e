"""Several processes, one result: shard by index, write partial results, merge on the main process.

Each process evaluates the records ``rank, rank + world, ...`` and writes its partial result to
``<out>/.partials/<benchmark>/rank<r>.npz`` (plain arrays plus one JSON document; no pickle).
After a barrier the main process reads them all and merges them in index order, so the numbers
equal those of a single process exactly. Processes are started by Accelerate (GPUs) or torchrun
(CPU, gloo); ``openbanana eval`` joins them through ``accelerate.Accelerator``::

    accelerate launch --multi_gpu --num_processes 4 -m openbanana eval --model M -b synthetic-val --out runs/eval
    torchrun --standalone --nproc_per_node 2 -m openbanana eval --model M -b synthetic-val --out runs/eval
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from openbanana.evaluation.benchmarks import Benchmark
from openbanana.evaluation.runner import EvalOptions, PartialResult


def _pack(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__nd__": key}
    if isinstance(obj, dict):
        return {k: _pack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _unpack(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__nd__"}:
            return arrays[obj["__nd__"]]
        return {k: _unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def save_partial(part: PartialResult, path: Path) -> Path:
    """Write a partial result as ``.npz`` (arrays + a JSON document stored as bytes)."""
    arrays: dict[str, np.ndarray] = {}
    doc = {
        "entries": {k: _pack(sc.entries, arrays) for k, sc in part.scorers.items()},
        "failures": part.failures,
        "prompts": part.prompts,
        "n_records": part.n_records,
        "timing_s": part.timing_s,
        "grid_rows": _pack([list(r) for r in part.grid_rows], arrays),
    }
    arrays["__doc__"] = np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def load_partial(path: Path, bench: Benchmark, opts: EvalOptions) -> PartialResult:
    """Read a partial result written by :func:`save_partial` (scorers rebuilt from the benchmark)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    doc = json.loads(arrays.pop("__doc__").tobytes().decode("utf-8"))
    scorers = bench.scorers(opts.benchmark)
    for k, entries in doc["entries"].items():
        scorers[k].entries = [tuple(e) for e in _unpack(entries, arrays)]
    rows = [tuple(r) for r in _unpack(doc["grid_rows"], arrays)]
    return PartialResult(
        scorers=scorers,
        failures=doc["failures"],
        prompts=doc["prompts"],
        n_records=doc["n_records"],
        grid_rows=rows,
        timing_s=doc["timing_s"],
    )


def partial_path(out_dir: Path, bench: Benchmark, rank: int) -> Path:
    return Path(out_dir) / ".partials" / bench.name / f"rank{rank}.npz"
