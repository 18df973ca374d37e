"""The numbers of a trained pipeline's model card, and the card itself (``MODEL_CARD.md`` beside
the weights).

The scores are not a second evaluator: :func:`evaluate_split` runs the ``synthetic-val`` /
``synthetic-shift`` benchmarks of :mod:`openbanana.evaluation` on scenes ``0 .. n-1`` at the
model's resolution and flattens their metrics (:data:`CARD_METRICS`); the protocol of each task is
its scorer's (:mod:`openbanana.evaluation.scoring`, :mod:`openbanana.data.sources.synthetic`).
This module adds the held-out generation loss: the flow-matching loss of text-to-image and editing
samples (val split, fixed noise), before (stage-1 export or the training history) and after
instruction tuning.

Run it with ``python scripts/evaluate_default.py --model DIR`` (see that script); the same numbers
come from ``openbanana eval -b synthetic-val --synthetic-size S --limit n -m DIR``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openbanana.batch import collate
from openbanana.data.mixture import MixtureConfig, make_sample
from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
from openbanana.evaluation.runner import EvalOptions, evaluate
from openbanana.evaluation.scoring import SCORERS
from openbanana.pipeline import OpenBananaPipeline, load_model

#: quality bars on synthetic val (issue 14): the value each scorer group's primary metric should reach
_AIM_VALUES = {
    "depth_delta1": 0.85,
    "normals_mean_deg": 18.0,
    "semantic_miou": 0.6,
    "semantic_random_miou": 0.6,
    "instance_f1": 0.5,
    "referring_ciou": 0.6,
    "reasoning_giou": 0.5,
}


#: model-card key -> (scorer of the synthetic benchmark, metric)
CARD_METRICS: dict[str, tuple[str, str]] = {
    "depth_delta1": ("depth", "delta1"), "depth_abs_rel": ("depth", "abs_rel"),
    "normals_mean_deg": ("normals", "mean"), "normals_median_deg": ("normals", "median"),
    "normals_a11_25": ("normals", "a11_25"),
    "semantic_miou": ("semantic", "miou"), "semantic_pixel_accuracy": ("semantic", "pixel_accuracy"),
    "semantic_random_miou": ("semantic-random", "miou"),
    "instance_f1": ("instance", "f1"),
    "referring_ciou": ("referring", "ciou"), "referring_giou": ("referring", "giou"),
    "reasoning_giou": ("reasoning", "giou"),
}
#: the aims as ``(value, "higher"/"lower" is better)``, the direction the scorer registry's
AIMS: dict[str, tuple[float, str]] = {
    key: (value, "higher" if SCORERS.get(CARD_METRICS[key][0]).higher_is_better else "lower")
    for key, value in _AIM_VALUES.items()
}


def _flat_scores(model: Any, benchmark: str, n: int, keys: dict[str, tuple[str, str]], *, batch_size: int = 8,
                 progress: bool = False, tasks: tuple[str, ...] | None = None, align: str = "none",
                 source: Any = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Run ``benchmark`` on its first ``n`` samples at the model's resolution; ``(flat scores, result)``
    with ``keys: card key -> (scorer, metric)`` (NaN where a scorer has no sample)."""

    opts = EvalOptions(limit=n, grid=0, batch_size=batch_size, tasks=None if tasks is None else tuple(tasks),
                       benchmark=BenchmarkOptions(align=align, synthetic_size=getattr(model, "resolution", 128)))
    result, _ = evaluate(model, BENCHMARKS.get(benchmark), opts, source=source, progress=progress)
    m, nan = result["metrics"], float("nan")
    return {key: float(m.get(group, {}).get(metric, nan)) for key, (group, metric) in keys.items()}, result


def evaluate_split(pipe: Any, split: str, n: int, *, batch_size: int = 8, progress: bool = False,
                   tasks: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Score ``pipe`` on scenes ``0..n-1`` of ``split``: the ``synthetic-<split>`` benchmark of
    :mod:`openbanana.evaluation` at the model's resolution, flattened to the card's keys (only
    ``tasks``' targets when given; the others' keys are NaN).

    Returns:
        ``{key: float for key in CARD_METRICS}`` plus ``"n_scenes", "n_referring", "n_reasoning",
        "n_instance", "n_failed", "seconds"`` (NaN where a split has no sample of a task).
    """

    t0 = time.perf_counter()
    out, result = _flat_scores(pipe, f"synthetic-{split}", n, CARD_METRICS, batch_size=batch_size,
                               progress=progress, tasks=tasks)
    counts = result["n_samples"]
    return {**out, "n_scenes": n, "n_referring": counts.get("referring", 0), "n_reasoning": counts.get("reasoning", 0),
            "n_instance": counts.get("instance", 0), "n_failed": result["n_failed"],
            "seconds": round(time.perf_counter() - t0, 2)}


# ---------------------------------------------------------------------------- rooms of a second renderer
#: model-card key -> (scorer, metric) on the ``primitive-rooms`` benchmark (rooms of boxes, balls and
#: cylinders from :mod:`openbanana.data.primitive_rooms`, a renderer that shares no code with training's)
ROOMS_METRICS: dict[str, tuple[str, str]] = {
    "depth_delta1": ("depth", "delta1"), "depth_abs_rel": ("depth", "abs_rel"),
    "normals_mean_deg": ("normals", "mean"), "normals_a11_25": ("normals", "a11_25"),
}


def evaluate_rooms(model: Any, n: int, *, align: str = "none", source: Any = None, batch_size: int = 8,
                   progress: bool = False, tasks: tuple[str, ...] | None = None) -> dict[str, float]:
    """Depth and normals of ``model`` on the first ``n`` primitive rooms (``align="scale"``: depth
    after a per-image least-squares scale; ``tasks``: only these, the others' keys NaN). Raises
    RuntimeError when any sample fails."""

    out, result = _flat_scores(model, "primitive-rooms", n, ROOMS_METRICS, batch_size=batch_size,
                               progress=progress, align=align, source=source, tasks=tasks)
    if result["n_failed"]:
        raise RuntimeError(f"{result['n_failed']} primitive rooms failed: {result['failures'][:3]}")
    return out


def constant_room_answers(source: Any, n: int) -> tuple[Any, float]:
    """The reference answers on rooms ``0..n-1`` of ``source``: every pixel at the rooms' median true
    depth (the best single distance in hindsight), every normal facing the camera, (0, 0, 1).

    Returns:
        ``(transform, median_m)``: ``transform(task, gt) -> answer`` for
        :class:`openbanana.evaluation.model.OracleModel`, and the median in metres.
    """

    median = float(np.median(np.concatenate([source[i].targets[0].gt.ravel() for i in range(n)])))

    def constant(task: str, gt: np.ndarray) -> np.ndarray:
        if task == "depth":
            return np.full_like(gt, median)
        return np.broadcast_to(np.array([0.0, 0.0, 1.0], gt.dtype), gt.shape).copy()

    return constant, median


def rooms_card(pipe: Any, n: int, *, progress: bool = False) -> dict[str, Any]:
    """The card's section on primitive rooms: the model (metric, and depth scaled per image) beside
    the constant answers of :func:`constant_room_answers`, all on the same ``n`` rooms."""

    from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource
    from openbanana.evaluation.model import OracleModel

    source = PrimitiveRoomsSource(size=pipe.resolution)
    constant, median = constant_room_answers(source, n)
    scaled = evaluate_rooms(pipe, n, align="scale", source=source, tasks=("depth",))
    return {"n": n, "model": evaluate_rooms(pipe, n, source=source, progress=progress),
            "model_scaled_depth_delta1": scaled["depth_delta1"],
            "constant": evaluate_rooms(OracleModel(source, transform=constant, through_code=False), n, source=source),
            "constant_depth_m": median}


#: val scenes the test suite scores the shipped model on (tests/test_default_model.py)
GUARD_SCENES = 8


def guard_scores(model_dir: str | Path | None = None, *, device: str = "cpu") -> dict[str, Any]:
    """The shipped model's (or ``model_dir``'s) scores on the first :data:`GUARD_SCENES` val scenes,
    and its depth and normals on as many primitive rooms (``rooms_depth_delta1``,
    ``rooms_normals_mean_deg``): the numbers the test suite holds the shipped model to (well under a
    minute on 2 CPU cores)."""

    pipe = load_model(model_dir, device=device)
    rooms = evaluate_rooms(pipe, GUARD_SCENES)
    return {**evaluate_split(pipe, "val", GUARD_SCENES, batch_size=8),
            "rooms_depth_delta1": rooms["depth_delta1"], "rooms_normals_mean_deg": rooms["normals_mean_deg"]}


@torch.no_grad()
def heldout_generation_loss(pipe: Any, *, n: int = 64, batch_size: int = 16, seed: int = 1234) -> float:
    """Mean flow-matching loss of ``pipe``'s backend on ``n`` held-out generation samples
    (text-to-image and editing, val split, at the model's resolution) with fixed noise and times."""

    cfg = MixtureConfig(vision_share=0.0, split="val", size=pipe.resolution)
    backend = pipe.backend
    was_training = getattr(backend, "training", False)
    backend.eval()
    gen = torch.Generator(device=pipe.device).manual_seed(seed)
    total, count = 0.0, 0
    for start in range(0, n, batch_size):
        batch = collate([make_sample(cfg, seed, i) for i in range(start, min(n, start + batch_size))])
        loss = float(backend.training_loss(batch.to(pipe.device), gen, auxiliary=False))  # flow matching alone
        total += loss * len(batch.prompts)
        count += len(batch.prompts)
    backend.train(was_training)
    return total / max(count, 1)


def history_generation_losses(training: dict[str, Any]) -> dict[str, float]:
    """Held-out generation loss at the end of each stage, from the training summary in ``pipeline.json``."""
    out: dict[str, float] = {}
    for ev in training.get("history", []) or []:
        if ev.get("event") == "stage_end":
            gen = (ev.get("heldout") or {}).get("gen") or {}
            if "generation" in gen:
                out[str(ev.get("name", ev.get("stage")))] = float(gen["generation"])
    return out


def evaluate_model(model_dir: str | Path, *, n: int = 32, splits: tuple[str, ...] = ("val", "shift"),
                   baseline: str | Path | None = None, gen_samples: int = 64, batch_size: int = 8,
                   device: str = "cpu", progress: bool = True, rooms: int | None = None) -> dict[str, Any]:
    """Every number of the model card for the pipeline in ``model_dir``.

    Args:
        model_dir: an exported pipeline directory.
        n: scenes per split.
        splits: synthetic splits to score.
        baseline: the stage-1 (generation-only) export, for the generation loss before tuning.
        gen_samples: held-out generation samples for the loss (0: skip).
        rooms: primitive rooms for :func:`rooms_card` (None: ``n``; 0: skip).
    """

    pipe = OpenBananaPipeline.from_pretrained(model_dir, device=device)
    results: dict[str, Any] = {"model": str(model_dir), "resolution": pipe.resolution, "n": n, "splits": {}}
    for split in splits:
        results["splits"][split] = evaluate_split(pipe, split, n, batch_size=batch_size, progress=progress)
    rooms = n if rooms is None else rooms
    if rooms > 0:
        results["rooms"] = rooms_card(pipe, rooms, progress=progress)
    gen: dict[str, Any] = {"history": history_generation_losses(pipe.config.training)}
    if gen_samples > 0:
        gen["after"] = heldout_generation_loss(pipe, n=gen_samples)
        gen["n_samples"] = gen_samples
        if baseline is not None:
            base = OpenBananaPipeline.from_pretrained(baseline, device=device)
            gen["before"] = heldout_generation_loss(base, n=gen_samples)
            gen["baseline"] = str(baseline)
    if "before" not in gen and len(gen["history"]) >= 2:
        vals = list(gen["history"].values())
        gen["before_history"], gen["after_history"] = vals[0], vals[-1]
    before = gen.get("before", gen.get("before_history"))
    after = gen.get("after") if "before" in gen else gen.get("after_history")
    if before is not None and after is not None:
        gen["relative_change"] = (after - before) / before
    results["generation"] = gen
    results["training"] = pipe.config.training
    results["parameters"] = int(sum(p.numel() for p in pipe.backend.parameters()))
    results["backend"] = pipe.config.backend
    results["inference"] = dataclasses.asdict(pipe.config.inference)
    return results


def evaluate_snapshots(run_dir: str | Path, *, n: int = 16, split: str = "val", device: str = "cpu",
                       progress: bool = True) -> list[dict[str, Any]]:
    """Score every ``RUN/snapshots/step_N`` export (score vs. training compute)."""

    rows = []
    for snap in sorted(Path(run_dir, "snapshots").glob("step_*")):
        pipe = OpenBananaPipeline.from_pretrained(snap, device=device)
        scores = evaluate_split(pipe, split, n, progress=progress)
        t = pipe.config.training
        rows.append({"snapshot": snap.name, "step": t.get("step"), "images_seen": t.get("images_seen"),
                     "minutes": t.get("minutes"), **scores})
    return rows


# ============================================================================ the card
def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, float):
        return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"
    return "n/a" if x is None else str(x)


def render_model_card(results: dict[str, Any], *, command: str, curve: list[dict[str, Any]] | None = None,
                      notes: str | None = None) -> str:
    """Markdown of the model card (data, steps, compute, measured scores, the command), with
    ``notes`` (markdown written by people: how the model was trained, what it cannot do) after the
    scores."""
    t = results.get("training") or {}
    lines = [
        "# openbanana default model",
        "",
        (f"A `{results.get('backend')}` generator ({results.get('parameters', 0) / 1e6:.2f} M parameters) at "
        f"{results['resolution']}x{results['resolution']}, trained from scratch in this repository: one set of "
        "weights for text-to-image, editing and every vision task (the task lives only in the instruction)."),
        "",
        "## Data",
        "",
        ("Synthetic scenes of `openbanana.data.synthetic` rendered on the fly (`openbanana.data.mixture`), "
        "train split only; val and shift (held-out shapes, textures, lighting, room types) are never trained on."),
        "",
    ]
    for s in t.get("stages", []) or []:
        lines.append(f"- stage `{s.get('name')}`: {s.get('planned_steps')} planned steps, lr {s.get('lr')}, "
                     f"data `{json.dumps(s.get('data', {}), sort_keys=True)}`")
    lines += [
        "",
        "## Training and compute",
        "",
        (f"- steps: {_fmt(t.get('steps'))}, images seen: {_fmt(t.get('images_seen'))}, "
        f"unique samples: {_fmt(t.get('unique_samples'))}"),
        (f"- wall-clock: {_fmt(t.get('minutes'))} min on {_fmt(t.get('device'))} "
        f"x{_fmt(t.get('world_size'))} (mixed precision {_fmt(t.get('mixed_precision'))})"),
        f"- stopped by time budget: {_fmt(t.get('stopped_by_time'))}",
        "",
        f"## Scores (synthetic splits, {results['n']} scenes each, at {results['resolution']} px)",
        "",
        ("Protocol: `openbanana.model_card` (same as the `synthetic-val` / `synthetic-shift` benchmarks of "
        "`openbanana.evaluation`): metric depth without alignment, GT in (0.001, 80) m, predictions clipped; "
        "normals over GT surfaces; semantic mIoU with the fixed palette of every class, and with a random "
        "palette (random colours, random order) over the classes in view; instance F1 of one-to-one matches at "
        "IoU 0.5 for the thing class with most instances; referring cIoU (expressions painted red on black); "
        "reasoning gIoU."),
        *_inference_lines(results.get("inference")),
        "",
        "| metric | aim | " + " | ".join(results["splits"]) + " |",
        "|---|---|" + "---|" * len(results["splits"]),
    ]
    names = [("depth_delta1", "depth delta1"), ("depth_abs_rel", "depth AbsRel"),
             ("normals_mean_deg", "normals mean angle (deg)"), ("normals_median_deg", "normals median angle (deg)"),
             ("semantic_miou", "semantic mIoU, fixed palette"),
             ("semantic_random_miou", "semantic mIoU, unseen random palettes"),
             ("instance_f1", "instance F1 at IoU 0.5"), ("referring_ciou", "referring cIoU"),
             ("reasoning_giou", "reasoning gIoU")]
    for key, label in names:
        aim = AIMS.get(key)
        aim_s = "" if aim is None else (">= " if aim[1] == "higher" else "<= ") + f"{aim[0]:g}"
        lines.append(f"| {label} | {aim_s} | " + " | ".join(_fmt(r.get(key)) for r in results["splits"].values()) + " |")
    lines += _rooms_lines(results.get("rooms"))
    gen = results.get("generation") or {}
    lines += ["", "## Generation kept through instruction tuning", ""]
    if "before" in gen:
        lines.append(f"- held-out generation loss before tuning ({gen['baseline']}): {_fmt(gen['before'], 4)}")
        lines.append(f"- after tuning (this model): {_fmt(gen['after'], 4)}")
    elif "before_history" in gen:
        lines.append("- held-out generation loss from the training history, end of each stage: "
                     + ", ".join(f"{k} {_fmt(v, 4)}" for k, v in gen["history"].items()))
    if "after" in gen and "before" not in gen:
        lines.append(f"- this model, recomputed on {gen.get('n_samples')} val generation samples: {_fmt(gen['after'], 4)}")
    if "relative_change" in gen:
        rc = gen["relative_change"]
        lines.append(f"- relative change: {rc * 100:+.1f}% (aim: within 5%)")
    if curve:
        lines += ["", "## Score vs. training compute (snapshots, val split)", "",
                  "| step | images seen | minutes | depth delta1 | normals mean | semantic mIoU | referring cIoU |",
                  "|---|---|---|---|---|---|---|"]
        for r in curve:
            lines.append(f"| {_fmt(r.get('step'))} | {_fmt(r.get('images_seen'))} | {_fmt(r.get('minutes'), 1)} | "
                         f"{_fmt(r['depth_delta1'])} | {_fmt(r['normals_mean_deg'], 1)} | {_fmt(r['semantic_miou'])} | "
                         f"{_fmt(r['referring_ciou'])} |")
    if notes:
        lines += ["", notes.strip()]
    lines += [
        "",
        "## How these numbers were produced",
        "",
        "```",
        command,
        "```",
        "",
        (f"Evaluated {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{platform.machine()} ({torch.get_num_threads()} torch threads)."),
        "",
    ]
    return "\n".join(lines)


def _inference_lines(inference: dict[str, Any] | None) -> list[str]:
    """How the model answered (its ``pipeline.json`` defaults), or nothing when unknown."""
    if not inference:
        return []
    mode = "one deterministic step" if inference.get("one_step_dense") else (
        f"{inference.get('num_inference_steps')} Euler steps")
    mirror = (" and the test-time mirror (each scene also answered mirrored for depth and normals, the two combined)"
              if inference.get("mirror_dense") else "")
    return ["", f"Answers as the pipeline gives them by default: dense tasks in {mode}{mirror}."]


def _rooms_lines(rooms: dict[str, Any] | None) -> list[str]:
    if not rooms:
        return []
    m, c = rooms["model"], rooms["constant"]
    return [
        "", f"## Rooms from a second renderer ({rooms['n']} primitive rooms)", "",
        ("Boxes, balls and cylinders in a box room, ray-cast in closed form by `openbanana.data.primitive_rooms`, "
         "which shares no code with the training renderer (`openbanana eval -b primitive-rooms`). The reference "
         f"answers every pixel with the rooms' median depth ({rooms['constant_depth_m']:.2f} m, chosen in "
         "hindsight) and every normal facing the camera."), "",
        "| answers | depth delta1 | depth AbsRel | depth delta1, scaled per image | normals mean angle (deg) |",
        "|---|---|---|---|---|",
        (f"| this model | {_fmt(m['depth_delta1'])} | {_fmt(m['depth_abs_rel'])} | "
         f"{_fmt(rooms.get('model_scaled_depth_delta1'))} | {_fmt(m['normals_mean_deg'], 1)} |"),
        f"| constant | {_fmt(c['depth_delta1'])} | {_fmt(c['depth_abs_rel'])} | | {_fmt(c['normals_mean_deg'], 1)} |",
    ]


def write_model_card(model_dir: str | Path, results: dict[str, Any], *, command: str,
                     curve: list[dict[str, Any]] | None = None, notes: str | None = None) -> Path:
    """Write ``MODEL_CARD.md`` and ``scores.json`` beside the weights; returns the card's path."""
    p = Path(model_dir)
    (p / "scores.json").write_text(json.dumps({**results, "curve": curve or []}, indent=2, default=str) + "\n")
    card = p / "MODEL_CARD.md"
    card.write_text(render_model_card(results, command=command, curve=curve, notes=notes))
    return card
