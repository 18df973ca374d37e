"""Run an experiment's :class:`~openbanana.experiments.pretraining_ablation.Plan`: train every job once,
score every run, write one JSON per run.

Layout of ``OUT``::

    OUT/plan.json                      the plan (budget, arms, jobs, runs, time estimate)
    OUT/train/<job key>/               one training run (the trainer's folder: train_config.json,
                                       checkpoints/ while it runs, snapshots/, the exported pipeline)
    OUT/train/<job key>/ablation_scores.json   its scores (val, shift, curve, generation loss), cached
    OUT/train/<job key>/samples.png    its sample sheet (text-to-image and three vision answers)
    OUT/train/init-seed<k>-<digest>/   the random initialisation's generation loss; for the
                                       ``untrained`` arm also its export, scores and sample sheet
    OUT/runs/<arm>/seed<k>.json        one run: scores on synthetic val and shift for every task,
                                       compute (minutes, images, vision samples), generation loss
                                       before and after instruction tuning, the curve

Skipping and resuming:
- a run whose JSON exists (made by the same job) is not repeated;
- a job whose exported pipeline exists is not retrained (arms that share a job share it);
- a job that was killed continues from its newest checkpoint that verifies, with the trainer's
  exact resume (:func:`openbanana.training.loop.train` ``resume=``); its checkpoints are deleted
  once the pipeline is exported;
- pretraining jobs are trained before the first run that needs them and reused through
  ``init_from`` (their final export or a snapshot).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from PIL import Image

from openbanana.data.synthetic import render_scene
from openbanana.data.synthetic.targets import SCENE_TARGETS
from openbanana.experiments.pretraining_ablation import Plan, RunSpec, TrainJob, digest, init_key
from openbanana.model_card import evaluate_split, heldout_generation_loss
from openbanana.pipeline import OpenBananaPipeline
from openbanana.tasks import TASKS
from openbanana.training.checkpoint import CheckpointError, resumable_checkpoint
from openbanana.training.config import TrainConfig
from openbanana.training.loop import build_backend, export_pipeline, train

SPLITS = ("val", "shift")
SCORES_FILE = "ablation_scores.json"
GENLOSS_FILE = "ablation_genloss.json"
SAMPLES_FILE = "samples.png"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def write_json(path: Path, obj: Any) -> Path:
    """Write JSON atomically (a killed process leaves the old file or the new one, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(obj), indent=2, default=_json_default, allow_nan=False) + "\n")
    os.replace(tmp, path)
    return path


def _finite(x: Any) -> Any:
    """NaN and infinities as null (strict JSON): a task a split has no sample of, a failed score."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def _json_default(x: Any) -> Any:
    if isinstance(x, (set, tuple)):
        return list(x)
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def run_path(out: Path, arm: str, seed: int) -> Path:
    """``OUT/runs/<arm>/seed<k>.json``."""
    return Path(out) / "runs" / arm / f"seed{seed}.json"


def check_out(out: Path, resume: bool) -> None:
    """Refuse to mix two experiments: an ``OUT`` holding runs or jobs needs ``--resume``.

    Raises:
        ValueError: ``OUT`` is a file, or holds an experiment and ``resume`` is False.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    busy = any((out / d).is_dir() and any((out / d).iterdir()) for d in ("runs", "train"))
    if busy and not resume:
        raise ValueError(f"{out} already holds an experiment: pass --resume to continue it (finished runs are "
                         "skipped, killed ones continue), or choose another --out")


# ============================================================================ training
def job_finished(job_dir: Path) -> bool:
    """The trainer exported the pipeline and wrote its summary (the last thing it does)."""
    return (job_dir / "pipeline.json").is_file() and (job_dir / "training_summary.json").is_file()


def resolve_config(config: dict[str, Any], out: Path) -> dict[str, Any]:
    """A job's TrainConfig dict with ``init_from`` made absolute under ``out``."""
    d = json.loads(json.dumps(config))
    if d.get("init_from"):
        d["init_from"] = str((Path(out) / d["init_from"]).resolve())
    return d


def ensure_trained(job: TrainJob, out: Path, *, progress: bool = True, log: Callable[[str], None] = _stderr) -> Path:
    """Train ``job`` into ``OUT/train/<key>`` unless it is there; resume it when it was killed.

    Raises:
        ValueError: a finished job lacks a snapshot the plan needs (it was trained by a plan that did
            not ask for it: delete its folder to retrain it).
    """
    d = Path(out) / "train" / job.key
    if job.kind == "init":  # not trained: the random initialisation, exported as it is
        if not (d / "pipeline.json").is_file():
            init = _random_init_pipe(job.config)
            export_pipeline(init.backend, d, init.config, {"step": 0, "images_seen": 0, "minutes": 0.0})
        return d
    if not job_finished(d):
        cfg = TrainConfig.from_dict(resolve_config(job.config, out))
        resume = None
        if any((d / "checkpoints").glob("step_*")):
            try:
                ck = resumable_checkpoint(d, warn=log)
                resume = d
                log(f"  resuming {job.key} from {ck.name}")
            except (CheckpointError, FileNotFoundError) as err:
                log(f"  {job.key}: no checkpoint to resume from ({err}); training it again from the start")
                shutil.rmtree(d)
        log(f"  training {job.key}: {job.steps} steps ({job.kind})")
        train(cfg, d, resume=resume, progress=progress)
        write_json(d / "job.json", {**job.to_dict(), "digest": digest(job.config),
                                    "finished_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")})
        shutil.rmtree(d / "checkpoints", ignore_errors=True)  # only needed to resume
        s = _read_json(d / "training_summary.json") or {}
        if s.get("minutes"):
            log(f"  {job.key}: {s.get('images_seen')} images in {s['minutes']:.2f} min "
                f"({s.get('images_seen', 0) / max(1e-9, 60 * s['minutes']):.1f} img/s measured)")
    missing = [s for s in job.snapshot_steps if not (d / "snapshots" / f"step_{s:07d}" / "pipeline.json").is_file()]
    if missing:
        raise ValueError(f"{d} lacks the snapshots at steps {missing} that this plan needs (it was trained by a "
                         "plan that did not ask for them): delete that folder and run again with --resume")
    return d


# ============================================================================ scoring
def _load(path: Path) -> Any:
    return OpenBananaPipeline.from_pretrained(path, device="cpu")


def write_sample_sheet(pipe: Any, path: Path, *, n_prompts: int = 4, seed: int = 0,
                       task: str | None = None) -> Path:
    """A sample sheet: text-to-image from ``n_prompts`` val captions (top row); a val scene and the
    model's depth, normals and semantic drawings of it (bottom row). With ``task`` (a model that
    answers one task and cannot generate), ``n_prompts`` val scenes (top row) and the model's
    drawing of each for ``task`` under the benchmark's instruction (bottom row)."""
    res = pipe.resolution
    scenes = [render_scene(i, split="val", size=res) for i in range(n_prompts)]
    if task is None:
        gen = torch.Generator().manual_seed(seed)
        top = list(pipe.generate([s.caption for s in scenes], generator=gen).images)
        bottom = [scenes[0].rgb]
        for t in ("depth", "normals", "semantic"):
            bottom.append(pipe(scenes[0].rgb, task=t).predictions[0].raw)
    else:
        top, bottom = [], []
        for i, scene in enumerate(scenes):
            targets = SCENE_TARGETS.get(task).benchmark(scene, i, "val")
            if targets:
                top.append(scene.rgb)
                instruction = TASKS.get(task).instruction(rng=None, **targets[0].spec)
                bottom.append(pipe(scene.rgb, instruction, task=task).predictions[0].raw)
    width = max(len(top), len(bottom))
    blank = np.zeros((res, res, 3), np.uint8)
    rows = [np.concatenate([np.asarray(im, np.uint8)[:res, :res] for im in r] + [blank] * (width - len(r)), axis=1)
            for r in (top, bottom)]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def _eval_settings(plan: Plan, curve: bool) -> dict[str, Any]:
    b = plan.budget
    return {"eval_scenes": b.eval_scenes, "gen_samples": b.gen_samples, "curve_scenes": b.curve_scenes,
            "curve": bool(curve), "splits": list(SPLITS)}


def _covers(have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Cached scores serve a request with the same settings; ones with a curve serve one without."""
    same = {k: v for k, v in have.items() if k != "curve"} == {k: v for k, v in want.items() if k != "curve"}
    return same and (bool(have.get("curve")) or not want["curve"])


def job_scores(job: TrainJob, plan: Plan, out: Path, *, curve: bool, log: Callable[[str], None] = _stderr
               ) -> dict[str, Any]:
    """Scores of a trained instruction job (cached in ``OUT/train/<key>/ablation_scores.json``):
    every task on ``eval_scenes`` val and shift scenes, the held-out generation loss after tuning,
    the sample sheet, and (``curve``) every snapshot scored on ``curve_scenes`` val scenes."""
    d = Path(out) / "train" / job.key
    settings = _eval_settings(plan, curve)
    cached = _read_json(d / SCORES_FILE)
    if cached and _covers(cached.get("settings") or {}, settings):
        return cached
    b = plan.budget
    pipe = _load(d)
    res: dict[str, Any] = {"settings": settings, "scores": {}}
    for split in SPLITS:
        log(f"  scoring {job.key} on {b.eval_scenes} {split} scenes")
        res["scores"][split] = evaluate_split(pipe, split, b.eval_scenes, batch_size=8, tasks=job.tasks)
    # a task head has no generation loss; its sheet shows its one task
    res["generation_loss_after"] = (heldout_generation_loss(pipe, n=b.gen_samples, batch_size=min(16, b.gen_samples))
                                    if job.generates else None)
    sheet_task = None if job.generates else job.tasks[0]
    res["samples"] = str(write_sample_sheet(pipe, d / SAMPLES_FILE, task=sheet_task).relative_to(out))
    res["curve"] = []
    if curve:
        for step in job.snapshot_steps:  # the last step's snapshot is the export, scored above
            snap = d / "snapshots" / f"step_{step:07d}"
            sp = _load(snap)
            t = sp.config.training
            log(f"  scoring snapshot {job.key}/{snap.name} on {b.curve_scenes} val scenes")
            res["curve"].append({"step": t.get("step"), "images_seen": t.get("images_seen"),
                                 "minutes": t.get("minutes"), "val": evaluate_split(sp, "val", b.curve_scenes)})
    write_json(d / SCORES_FILE, res)
    return res


def _random_init_pipe(config: dict[str, Any]) -> Any:
    """The untrained backend a scratch run starts from (the trainer's seeding), as a pipeline-like
    object for :func:`openbanana.model_card.heldout_generation_loss`."""
    from accelerate.utils import set_seed

    cfg = TrainConfig.from_dict({**config, "init_from": None})
    set_seed(cfg.seed)
    return SimpleNamespace(backend=build_backend(cfg), resolution=cfg.resolution, device=torch.device("cpu"),
                           config=cfg)


def init_generation_loss(spec: RunSpec, job: TrainJob, plan: Plan, out: Path) -> dict[str, Any]:
    """Held-out generation loss (and sample sheet, when the weights are a pipeline) of the weights a
    run starts from: its pretraining export or snapshot, or the random initialisation. Cached."""
    n = plan.budget.gen_samples
    if not job.generates:  # a task head: no generation to measure
        return {"gen_samples": n, "source": spec.init or "random initialisation", "loss": None}
    if spec.init is None:
        where = Path(out) / "train" / init_key(job.config)
    else:
        where = Path(out) / spec.init
    cached = _read_json(where / GENLOSS_FILE)
    if cached and cached.get("gen_samples") == n:
        return cached
    pipe = _random_init_pipe(job.config) if spec.init is None else _load(where)
    res = {"gen_samples": n, "source": spec.init or "random initialisation",
           "loss": heldout_generation_loss(pipe, n=n, batch_size=min(16, n))}
    if spec.init is not None:
        res["samples"] = str(write_sample_sheet(pipe, where / SAMPLES_FILE).relative_to(out))
    write_json(where / GENLOSS_FILE, res)
    return res


def _pretrain_compute(spec: RunSpec, out: Path) -> dict[str, Any]:
    """Minutes and images of the pretraining behind a run's starting weights (0 from scratch)."""
    if spec.init is None:
        return {"minutes": 0.0, "images": 0, "steps": 0}
    p = Path(out) / spec.init
    t = (_read_json(p / "pipeline.json") or {}).get("training") or {}
    return {"minutes": float(t.get("minutes") or 0.0), "images": int(t.get("images_seen") or 0),
            "steps": int(t.get("step") or t.get("steps") or spec.pretrain_steps)}


def run_record(spec: RunSpec, job: TrainJob, plan: Plan, out: Path, scores: dict[str, Any],
               before: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one run (see the module docstring)."""
    summary = _read_json(Path(out) / "train" / job.key / "training_summary.json") or {}
    pre = _pretrain_compute(spec, out)
    images = int(summary.get("images_seen") or 0)
    minutes = float(summary.get("minutes") or 0.0)
    pre_images = pre["images"]
    curve = [{**c, "total_images": pre_images + int(c.get("images_seen") or 0),
              "total_minutes": pre["minutes"] + float(c.get("minutes") or 0.0)} for c in scores.get("curve", [])]
    curve.append({"step": summary.get("steps"), "images_seen": images, "minutes": minutes,
                  "total_images": pre_images + images, "total_minutes": pre["minutes"] + minutes,
                  "val": scores["scores"]["val"]})
    after = scores.get("generation_loss_after")
    return {
        "experiment": plan.experiment, "arm": spec.arm, "family": spec.family, "seed": spec.seed,
        "job": job.key, "digest": digest(job.config), "budget": plan.budget.name,
        "tasks": list(spec.tasks), "vision_share": spec.vision_share, "steps": spec.steps,
        "pretrain_steps": spec.pretrain_steps, "pretrain_fraction": spec.pretrain_steps / plan.budget.pretrain_steps,
        "scores": scores["scores"],
        "generation_loss": {"before": before["loss"], "after": after, "before_source": before["source"],
                            "relative_change": (after - before["loss"]) / before["loss"] if before["loss"] else None,
                            "samples_before": before.get("samples"), "samples_after": scores.get("samples"),
                            "n_samples": before["gen_samples"]},
        "compute": {"instruct_minutes": minutes, "instruct_images": images,
                    "vision_samples_expected": round(images * spec.vision_share),
                    "pretrain_minutes": pre["minutes"], "pretrain_images": pre_images,
                    "total_minutes": minutes + pre["minutes"], "total_images": images + pre_images,
                    "device": summary.get("device"), "torch_threads": torch.get_num_threads()},
        "curve": curve if spec.curve else [],
        "config": job.config,
        "finished_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


# ============================================================================ the whole plan
def run_plan(plan: Plan, out: str | Path, *, resume: bool = False, progress: bool = True,
             log: Callable[[str], None] = _stderr) -> list[Path]:
    """Run every (arm, seed) of ``plan`` into ``out``; returns the run JSON paths.

    Raises:
        ValueError: ``out`` holds an experiment and ``resume`` is False, or a run JSON there was made
            by another plan (another budget or base config).
    """
    out = Path(out)
    check_out(out, resume)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "plan.json", plan.to_dict())
    paths: list[Path] = []
    t0 = time.monotonic()
    total = len(plan.runs)
    for i, spec in enumerate(plan.runs, 1):
        path = run_path(out, spec.arm, spec.seed)
        head = f"[{i}/{total}] {spec.arm} seed {spec.seed}"
        done = _read_json(path)
        if done is not None:
            if done.get("job") != spec.job:
                raise ValueError(f"{path} was made by another plan (job {done.get('job')}, this plan's is {spec.job}: "
                                 "another budget or base config); use another --out")
            log(f"{head}: done already, skipped")
            paths.append(path)
            continue
        log(f"{head}: {spec.steps} instruction steps at {spec.vision_share * 100:g} % vision "
            f"({(time.monotonic() - t0) / 60:.1f} min so far)")
        job = plan.jobs[spec.job]
        if job.depends_on:
            ensure_trained(plan.jobs[job.depends_on], out, progress=progress, log=log)
        ensure_trained(job, out, progress=progress, log=log)
        scores = job_scores(job, plan, out, curve=spec.curve, log=log)
        before = init_generation_loss(spec, job, plan, out)
        write_json(path, run_record(spec, job, plan, out, scores, before))
        paths.append(path)
    log(f"all {total} runs done in {(time.monotonic() - t0) / 60:.1f} min; results under {out / 'runs'}")
    return paths
