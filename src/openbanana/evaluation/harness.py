"""One call for the command line: evaluate a model on several benchmarks, on one or N processes,
write ``<out>/<benchmark>.json`` and the picture grid, and return the results.

Model names: a path to a saved pipeline (or None for the embedded default) is loaded with
:func:`openbanana.pipeline.load_model`; ``oracle`` and ``oracle-noisy`` are the harness's
self-checks (:class:`~openbanana.evaluation.model.OracleModel`, noise sigma 3).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from openbanana.evaluation.benchmarks import BENCHMARKS, Benchmark
from openbanana.evaluation.distributed import load_partial, partial_path, save_partial
from openbanana.evaluation.grid import save_grid
from openbanana.evaluation.model import OracleModel
from openbanana.evaluation.runner import EvalOptions, finalize, model_fingerprint, run_partial
from openbanana.pipeline import DEFAULT_MODEL_DIR, load_model

ORACLES = {"oracle": 0.0, "oracle-noisy": 3.0}


def pick_device(device: str, accelerator: Any = None) -> str:
    """``auto``: this process's Accelerate device, else CUDA when available, else CPU."""
    if device != "auto":
        return device
    if accelerator is not None:
        return str(accelerator.device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def model_loader(
    model: str | None, seed: int = 0, device: str = "cpu"
) -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """``(source -> model, model info)`` for a ``--model`` value."""
    if model in ORACLES:
        sigma = ORACLES[model]
        return (lambda source: OracleModel(source, noise_sigma=sigma, seed=seed)), {
            "name": model,
            "sha256": None,
        }
    pipe = load_model(model, device=device)
    info = {"name": model or "default", "device": device, **model_fingerprint(_weights_path(pipe, model))}
    return (lambda source: pipe), info


def _weights_path(pipe: Any, model: str | None) -> str | None:
    """The directory whose ``.safetensors`` files are hashed: ``--model``, else the shipped default."""
    if model is not None:
        return model
    return str(DEFAULT_MODEL_DIR)


def split_completeness(source: Any) -> dict[str, Any]:
    """``expected_len`` / ``complete`` when the split has a known size, plus the source's notes."""
    out: dict[str, Any] = {}
    expected = getattr(source, "expected_len", None)
    if expected is not None:
        out["expected_len"] = expected
        out["complete"] = len(source) == expected
    notes = getattr(source, "notes", None)
    if notes:
        out["notes"] = list(notes)
    return out


def write_result(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result['benchmark']}.json"
    path.write_text(json.dumps(result, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return path


def run_benchmarks(
    model: str | None,
    names: list[str],
    opts: EvalOptions,
    accelerator: Any = None,
    progress: bool = True,
    device: str = "auto",
) -> list[dict[str, Any]]:
    """Evaluate ``model`` on each benchmark in ``names``; returns the result dicts (main process).

    With an Accelerate ``accelerator`` of N processes, each evaluates every N-th record, writes its
    partial result under ``<out>/.partials`` and the main process merges them (requires ``out_dir``).
    """
    benches: list[Benchmark] = [BENCHMARKS.get(n) for n in names]
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    if world > 1 and opts.out_dir is None:
        raise ValueError("several processes need --out DIR to exchange partial results, got none")
    make_model, info = model_loader(model, opts.seed, pick_device(device, accelerator))
    results = []
    for bench in benches:
        if opts.out_dir is not None and opts.benchmark.workdir is None:
            opts.benchmark.workdir = Path(opts.out_dir) / bench.name / "work"
        source = bench.source(opts.data_root, opts.benchmark)
        n = len(source) if opts.limit is None else min(len(source), opts.limit)
        part = run_partial(make_model(source), bench, source, opts, rank, world, progress)
        if world > 1:
            save_partial(part, partial_path(opts.out_dir, bench, rank))
            accelerator.wait_for_everyone()
            if rank == 0:
                parts = [
                    load_partial(partial_path(opts.out_dir, bench, r), bench, opts) for r in range(world)
                ]
        else:
            parts = [part]
        if rank == 0:
            result = finalize(bench, parts, opts, {**info}, n_total=n)
            if bench.reference:
                result["reference"] = bench.reference
            result.update(split_completeness(source))
            if opts.out_dir is not None:
                out = Path(opts.out_dir)
                write_result(result, out)
                rows = sorted((r for p in parts for r in p.grid_rows), key=lambda r: (r[0], r[1]))
                if rows:
                    save_grid([r[1:] for r in rows], out / f"{bench.name}-grid.png")
            results.append(result)
        opts.benchmark.workdir = None
        if world > 1:
            accelerator.wait_for_everyone()
    return results
