"""Run a model over a benchmark: prompts from the task registry, predictions, scoring, results.

Steps for one benchmark (``run_partial`` does 1-4 for the records of one process):

1. open the data source (a layout error stops the benchmark with a message naming the file);
2. for each record of this process (indices ``rank, rank + world, ...``), load it; a record that
   fails to load is counted in ``failures`` with its id and the error;
3. for each target: canonical instruction from ``TASKS.get(task).instruction(rng=None, **spec)``,
   then the model, in batches of questions sharing a task and decoding spec
   (``model(images=, instruction=, task=, **spec)``, or ``model.predict`` one by one), then the
   scorer (answer resized to the ground truth's size); any failure is counted with the stage and
   the error, never dropped;
4. keep the per-sample scorer states, prompts, grid pictures and timings;
5. ``finalize`` merges the partial results of all processes in index order (identical to one
   process) and builds the result dict written as ``<out>/<benchmark>.json``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

import openbanana
from openbanana import __version__
from openbanana.data.sources.base import DataSource, Record, Target
from openbanana.evaluation.benchmarks import Benchmark, BenchmarkOptions
from openbanana.evaluation.model import _oracle_target_for_encoding
from openbanana.evaluation.rewriters import QUERY_REWRITERS, rewrite_spec
from openbanana.evaluation.scoring import Scorer
from openbanana.tasks import TASKS

#: how many distinct prompts a result file lists per scorer
MAX_PROMPT_EXAMPLES = 20


@dataclass
class EvalOptions:
    """Options of one evaluation run (the CLI's flags).

    Attributes:
        limit: evaluate only the first ``limit`` records (None = the whole split).
        seed: recorded in the results; seeds the oracle's noise (synthetic scene i is always
            ``render_scene(i)``, whatever the seed, so splits stay fixed).
        data_root: folder holding the data sets (``<data_root>/<benchmark data_dir>``).
        out_dir: where results, predictions and grids are written (None = nothing written).
        save_predictions: also write every decoded answer (``.npy``) and generated RGB (``.png``).
        grid: number of records shown in the picture grid (0 = no grid).
        query_rewriter: name in ``QUERY_REWRITERS`` applied to reasoning queries.
        batch_size: questions per model call (same task and decoding spec).
        model_kwargs: extra keywords for every model call (``num_inference_steps``,
            ``ensemble_size``, ``one_step``, ...), written into the result's protocol.
        benchmark: protocol options (depth alignment, synthetic size).
        tasks: score only targets of these tasks (None = every target of the benchmark), for a
            model that answers fewer tasks (a one-task head, :mod:`openbanana.backends.task_head`).
        task_spec: per task, spec entries that replace the target's before its instruction is
            written and its answer decoded, e.g. ``{"depth": {"colormap": "grayscale"}}`` asks
            for depth in another colour code (written into the result's protocol).
    """

    limit: int | None = None
    seed: int = 0
    data_root: Path | None = None
    out_dir: Path | None = None
    save_predictions: bool = False
    grid: int = 4
    query_rewriter: str = "identity"
    batch_size: int = 8
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    benchmark: BenchmarkOptions = field(default_factory=BenchmarkOptions)
    tasks: tuple[str, ...] | None = None
    task_spec: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class PartialResult:
    """What one process found on its share of a benchmark."""

    scorers: dict[str, Scorer]
    failures: list[dict[str, Any]] = field(default_factory=list)
    prompts: dict[str, list[str]] = field(default_factory=dict)
    n_records: int = 0
    grid_rows: list[tuple[int, str, np.ndarray, np.ndarray | None, np.ndarray | None]] = field(
        default_factory=list
    )
    timing_s: dict[str, float] = field(default_factory=lambda: {"load": 0.0, "predict": 0.0, "score": 0.0})


def shard_indices(n: int, rank: int, world: int) -> range:
    """Indices of the records that process ``rank`` of ``world`` evaluates."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"expected 0 <= rank < world, got rank {rank}, world {world}")
    return range(rank, n, world)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _visualise_gt(target: Target) -> np.ndarray | None:
    """The ground truth drawn in the task's own colour code (for the picture grid)."""
    try:
        return np.asarray(openbanana.encode(target.task, _oracle_target_for_encoding(target), **target.spec))
    except Exception:  # noqa: BLE001 -- a picture is optional; the scores are not affected
        return None


@dataclass
class _Job:
    """One question waiting for the model."""

    index: int
    record: Record
    target: Target
    task: str
    instruction: str
    spec: dict[str, Any]

    @property
    def where(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.record.id,
            "key": self.target.key,
            "group": self.target.scorer_key,
        }


#: spec keys that only shape the instruction text (so jobs differing in them can share a batch call)
_TEXT_ONLY_KEYS = ("expressions", "category")


def _batch_key(job: _Job) -> str:
    shared = {k: v for k, v in job.spec.items() if k not in _TEXT_ONLY_KEYS}
    return job.task + json.dumps(shared, sort_keys=True, default=str)


def _predict_jobs(model: Any, jobs: list[_Job], model_kwargs: dict[str, Any] | None = None) -> list[Any]:
    """Predictions (or the exception raised) for each job, in order.

    A model with a batch ``__call__(images=, instruction=, task=, **spec)`` (the pipeline) gets one
    call per batch; if that call fails, each job is retried alone so one bad input fails alone.
    """
    if len(jobs) > 1 and callable(model):
        shared = {k: v for k, v in jobs[0].spec.items() if k not in _TEXT_ONLY_KEYS}
        try:
            out = model(
                images=[j.record.image for j in jobs],
                instruction=[j.instruction for j in jobs],
                task=jobs[0].task,
                **shared,
                **(model_kwargs or {}),
            )
            preds = list(getattr(out, "predictions", out))
        except Exception:  # noqa: BLE001 -- isolate the failing input below
            preds = []
        if len(preds) == len(jobs):
            return preds
    results: list[Any] = []
    for j in jobs:
        try:
            kw = {**j.spec, **(model_kwargs or {})}
            results.append(model.predict(j.record.image, instruction=j.instruction, task=j.task, **kw))
        except Exception as exc:  # noqa: BLE001 -- counted by the caller
            results.append(exc)
    return results


def run_partial(
    model: Any,
    bench: Benchmark,
    source: DataSource,
    opts: EvalOptions,
    rank: int = 0,
    world: int = 1,
    progress: bool = False,
) -> PartialResult:
    """Evaluate this process's share of ``source`` (see the module docstring, steps 2-4).

    Questions are sent to the model in batches of ``opts.batch_size`` (same task and decoding
    spec); the result does not depend on the batch size except through the model itself.
    """
    scorers = bench.scorers(opts.benchmark)
    rewriter = QUERY_REWRITERS.get(opts.query_rewriter)
    part = PartialResult(scorers=scorers, prompts={k: [] for k in scorers})
    n = len(source) if opts.limit is None else min(len(source), opts.limit)
    pred_dir = None
    if opts.save_predictions and opts.out_dir is not None:
        pred_dir = Path(opts.out_dir) / bench.name / "predictions"
        pred_dir.mkdir(parents=True, exist_ok=True)
    pending: dict[str, list[_Job]] = {}

    def flush(key: str) -> None:
        jobs = pending.pop(key)
        t1 = time.perf_counter()
        preds = _predict_jobs(model, jobs, opts.model_kwargs)
        part.timing_s["predict"] += time.perf_counter() - t1
        for job, pred in zip(jobs, preds):
            score(job, pred)

    def score(job: _Job, pred: Any) -> None:
        group = job.target.scorer_key
        if isinstance(pred, BaseException):
            part.failures.append({**job.where, "stage": "predict", "error": _error(pred)})
            return
        t2 = time.perf_counter()
        try:
            answer = getattr(pred, "answer", None)
            if answer is None:  # a model that only draws: decode its picture here
                answer = openbanana.decode(job.task, pred.generated, **job.spec).value
            scorers[group].update(job.index, job.target, answer)
        except Exception as exc:  # noqa: BLE001
            part.failures.append({**job.where, "stage": "score", "error": _error(exc)})
            return
        finally:
            part.timing_s["score"] += time.perf_counter() - t2
        if pred_dir is not None:
            _save_prediction(pred_dir, job.record.id, job.target, answer, getattr(pred, "generated", None))
        if job.index < opts.grid:
            row = (job.index, f"{job.record.id} {group}", job.record.image, getattr(pred, "generated", None))
            part.grid_rows.append((*row, _visualise_gt(job.target)))

    indices = shard_indices(n, rank, world)
    iterator = indices
    if progress:
        iterator = tqdm(indices, desc=bench.name, unit="img", disable=rank != 0)
    for index in iterator:
        t0 = time.perf_counter()
        try:
            record: Record = source[index]
        except Exception as exc:  # noqa: BLE001 -- counted and reported, never dropped
            part.failures.append(
                {"index": index, "id": source.record_id(index), "stage": "load", "error": _error(exc)}
            )
            continue
        finally:
            part.timing_s["load"] += time.perf_counter() - t0
        part.n_records += 1
        for target in record.targets:
            if opts.tasks is not None and target.task not in opts.tasks:
                continue
            group = target.scorer_key
            where = {"index": index, "id": record.id, "key": target.key, "group": group}
            if group not in scorers:
                part.failures.append({**where, "stage": "score", "error": f"no scorer for {group!r}"})
                continue
            try:
                task, spec = target.task, {**target.spec, **opts.task_spec.get(target.task, {})}
                if task == "reasoning" and opts.query_rewriter != "identity":
                    # the paper: an MLLM turns the query into a plain referring expression first
                    task, spec = "referring", rewrite_spec(spec, rewriter, record.image)
                instruction = TASKS.get(task).instruction(rng=None, **spec)
            except Exception as exc:  # noqa: BLE001
                part.failures.append({**where, "stage": "prompt", "error": _error(exc)})
                continue
            if instruction not in part.prompts[group] and len(part.prompts[group]) < MAX_PROMPT_EXAMPLES:
                part.prompts[group].append(instruction)
            job = _Job(index, record, target, task, instruction, spec)
            key = _batch_key(job)
            pending.setdefault(key, []).append(job)
            if len(pending[key]) >= max(1, opts.batch_size):
                flush(key)
    for key in list(pending):
        flush(key)
    return part


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _save_prediction(pred_dir: Path, record_id: str, target: Target, answer: Any, gen: Any) -> None:
    stem = _safe(f"{record_id}__{target.scorer_key}{'__' + target.key if target.key else ''}")
    if isinstance(answer, tuple):
        answer = answer[0]
    if hasattr(answer, "detach"):
        answer = answer.detach().cpu().numpy()
    np.save(pred_dir / f"{stem}.npy", np.asarray(answer), allow_pickle=False)
    if gen is not None:
        Image.fromarray(np.asarray(gen, dtype=np.uint8)).save(pred_dir / f"{stem}.png")


def model_fingerprint(path: str | Path | None) -> dict[str, Any]:
    """``{"path", "sha256"}``: sha256 over the ``.safetensors`` file(s) at ``path`` (sorted by name)."""
    if path is None:
        return {"path": None, "sha256": None}
    p = Path(path)
    files = sorted(p.rglob("*.safetensors")) if p.is_dir() else [p] if p.suffix == ".safetensors" else []
    if not files:
        return {"path": str(p), "sha256": None}
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return {
        "path": str(p),
        "sha256": h.hexdigest(),
        "files": [str(f.relative_to(p) if p.is_dir() else f.name) for f in files],
    }


def finalize(
    bench: Benchmark,
    partials: list[PartialResult],
    opts: EvalOptions,
    model_info: dict[str, Any] | None = None,
    n_total: int | None = None,
) -> dict[str, Any]:
    """Merge the processes' partial results (index order) into the result dict."""
    scorers = partials[0].scorers
    for key, sc in scorers.items():
        sc.merge([p.scorers[key] for p in partials[1:]])
    failures = sorted((f for p in partials for f in p.failures), key=lambda f: (f["index"], f.get("key", "")))
    metrics: dict[str, Any] = {}
    for key, sc in scorers.items():
        if len(sc) == 0:
            continue
        metrics[key] = sc.compute()
    prompts: dict[str, list[str]] = {}
    for key in scorers:
        seen: list[str] = []
        for p in partials:
            for s in p.prompts.get(key, []):
                if s not in seen:
                    seen.append(s)
        if seen:
            prompts[key] = sorted(seen)[:MAX_PROMPT_EXAMPLES]
    timing = {k: sum(p.timing_s[k] for p in partials) for k in ("load", "predict", "score")}
    return {
        "benchmark": bench.name,
        "split": bench.split,
        "description": bench.description,
        "tasks": [k for k in bench.tasks if k in metrics],
        "protocol": {
            **{k: sc.protocol() for k, sc in scorers.items() if k in metrics},
            "resize": "answers decoded at generation resolution, resized to ground truth (nearest for labels)",
            "prompt": "canonical instruction of the task registry (TASKS[task].instruction(rng=None, **spec))",
            "query_rewriter": opts.query_rewriter,
            "model_kwargs": dict(opts.model_kwargs),
            **({"task_spec": dict(opts.task_spec)} if opts.task_spec else {}),
        },
        "prompts": prompts,
        "metrics": metrics,
        "n_images": sum(p.n_records for p in partials),
        "n_samples": {k: len(sc) for k, sc in scorers.items() if len(sc)},
        "n_failed": len(failures),
        "failures": failures,
        "n_requested": n_total,
        "model": model_info or {},
        "package_version": __version__,
        "seed": opts.seed,
        "limit": opts.limit,
        "world_size": len(partials),
        "timing_s": timing,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


#: result keys that may differ between runs that computed the same numbers
VOLATILE_KEYS = ("timing_s", "created_utc", "world_size")


def evaluate(
    model: Any,
    bench: Benchmark,
    opts: EvalOptions | None = None,
    model_info: dict[str, Any] | None = None,
    source: DataSource | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], PartialResult]:
    """Evaluate ``model`` on ``bench`` in this process; returns ``(result dict, merged partial)``."""
    opts = opts or EvalOptions()
    if source is None:
        source = bench.source(opts.data_root, opts.benchmark)
    n = len(source) if opts.limit is None else min(len(source), opts.limit)
    part = run_partial(model, bench, source, opts, progress=progress)
    return finalize(bench, [part], opts, model_info, n_total=n), part
