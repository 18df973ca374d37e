"""The report of the generation-pretraining ablation: tables over seeds, differences, plots.

Reads ``OUT/runs/<arm>/seed<k>.json`` (written by :mod:`openbanana.experiments.runner`) and writes:

- ``OUT/report.md``: per split (val, shift) one table of every arm's score on every task, as the
  mean over seeds and its 95 % interval (Student's t with ``n - 1`` degrees of freedom:
  ``mean +- t(0.975, n-1) * sd / sqrt(n)``; one seed gives no interval); a row of the specialists
  combined (each on its own task); paired differences ``pretrained - X`` over the seeds both arms
  ran; compute (minutes, images, vision samples) and the held-out generation loss before and after
  instruction tuning per arm; links to the plots and sample sheets;
- ``OUT/summary.json``: the same numbers;
- ``OUT/plots/``: ``vision_share.png`` (score vs vision share), ``pretrain_compute.png`` (score vs
  the share of the pretraining), ``score_vs_compute.png`` (val score vs images seen, pretraining
  included, of ``pretrained`` and ``scratch``, from their snapshots).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scipy import stats

from openbanana.experiments.pretraining_ablation import LOWER_IS_BETTER, REFERENCE_ARM, TASK_METRICS
from openbanana.experiments.runner import write_json

SPLITS = ("val", "shift")
TASK_LABELS = {"depth": "depth delta1", "normals": "normals mean (deg, lower)", "semantic": "semantic mIoU",
               "instance": "instance F1", "referring": "referring cIoU", "reasoning": "reasoning gIoU"}
#: arms compared with ``pretrained`` by paired differences, in this order
COMPARED = ("scratch", "vision-only", "specialists", "head specialists")
#: specialist families combined into one pseudo-arm each (every specialist on its own task)
COMBINED = {"specialist": "specialists", "head-specialist": "head specialists"}
#: ``(a, b, better, worse)``: further paired differences ``a - b`` and how to read them
CONTRASTS = (("specialists", "head specialists", "the colour code is better", "the plain head is better"),)


# ============================================================================ intervals
@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values and its two-sided t-interval (``low``/``high`` NaN when ``n < 2``)."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def format(self, digits: int = 3) -> str:
        """``0.335 +- 0.021`` (``0.335 (1 seed)`` without an interval, ``n/a`` without values)."""
        if self.n == 0 or not math.isfinite(self.mean):
            return "n/a"
        if not math.isfinite(self.half_width):
            return f"{self.mean:.{digits}f} ({self.n} seed)"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}"


def t_interval(values: list[float | None], level: float = 0.95) -> Interval:
    """Mean and ``level`` t-interval of the finite values (None and NaN are left out).

    Example:
        >>> iv = t_interval([1.0, 2.0, 3.0])
        >>> round(iv.mean, 6), round(iv.half_width, 4)  # t(0.975, 2) = 4.3027, sd = 1
        (2.0, 2.4842)
    """
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, level)
    mean = sum(xs) / n
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, level)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, level)


# ============================================================================ runs
def load_runs(out: str | Path) -> list[dict[str, Any]]:
    """Every run JSON under ``OUT/runs`` (sorted by arm, seed)."""
    runs = []
    for p in sorted(Path(out, "runs").glob("*/seed*.json")):
        try:
            runs.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(runs, key=lambda r: (r.get("arm", ""), r.get("seed", 0)))


def _arm_order(runs: list[dict[str, Any]]) -> list[str]:
    """Arms in the order of the plan (``OUT/plan.json`` when given), else as first seen."""
    seen: list[str] = []
    for r in runs:
        if r["arm"] not in seen:
            seen.append(r["arm"])
    return seen


def _score(run: dict[str, Any], split: str, task: str) -> float | None:
    if task not in run.get("tasks", TASK_METRICS):
        return None
    v = (run.get("scores", {}).get(split) or {}).get(TASK_METRICS[task])
    return None if v is None else float(v)


def _by_arm(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        out[r["arm"]].append(r)
    return out


def _specialists(runs: list[dict[str, Any]], family: str = "specialist") -> dict[int, dict[str, Any]]:
    """Per seed, a pseudo-run holding each specialist of ``family``'s score on its own task."""
    combined: dict[int, dict[str, Any]] = {}
    for r in runs:
        if r.get("family") != family:
            continue
        c = combined.setdefault(r["seed"], {"arm": COMBINED[family], "seed": r["seed"], "tasks": [],
                                            "scores": {s: {} for s in SPLITS}})
        for task in r["tasks"]:
            c["tasks"].append(task)
            for s in SPLITS:
                c["scores"][s][TASK_METRICS[task]] = (r["scores"].get(s) or {}).get(TASK_METRICS[task])
    return combined


def summarize(runs: list[dict[str, Any]], arm_order: list[str] | None = None) -> dict[str, Any]:
    """Intervals per arm, split and task; compute and generation loss per arm; paired differences."""
    by_arm = _by_arm(runs)
    for family, name in COMBINED.items():
        spec = _specialists(runs, family)
        if spec:
            by_arm[name] = list(spec.values())
    order = [a for a in (arm_order or _arm_order(runs)) if a in by_arm]
    order += [a for a in by_arm if a not in order]
    scores: dict[str, Any] = {}
    compute: dict[str, Any] = {}
    for arm in order:
        rs = by_arm[arm]
        scores[arm] = {s: {t: asdict(t_interval([_score(r, s, t) for r in rs])) for t in TASK_METRICS} for s in SPLITS}
        if arm in COMBINED.values():
            continue
        c = [r.get("compute", {}) for r in rs]
        g = [r.get("generation_loss", {}) for r in rs]
        compute[arm] = {
            "seeds": len(rs), "steps": rs[0].get("steps"), "vision_share": rs[0].get("vision_share"),
            "pretrain_steps": rs[0].get("pretrain_steps"),
            **{k: asdict(t_interval([x.get(k) for x in c])) for k in
               ("instruct_minutes", "total_minutes", "instruct_images", "vision_samples_expected", "total_images")},
            "gen_loss_before": asdict(t_interval([x.get("before") for x in g])),
            "gen_loss_after": asdict(t_interval([x.get("after") for x in g])),
            "samples_before": g[0].get("samples_before"), "samples_after": g[0].get("samples_after"),
        }
    diffs = {other: d for other in COMPARED if (d := _paired(by_arm, "pretrained", other))}
    contrasts = {f"{a} - {b}": d for a, b, _, _ in CONTRASTS if (d := _paired(by_arm, a, b))}
    return {"arms": order, "scores": scores, "compute": compute, "differences": diffs, "contrasts": contrasts}


def _paired(by_arm: dict[str, list[dict[str, Any]]], a: str, b: str) -> dict[str, Any] | None:
    """Paired differences ``a - b`` per split and task over the seeds both ran (None: no such seed)."""
    ra = {r["seed"]: r for r in by_arm.get(a, [])}
    rb = {r["seed"]: r for r in by_arm.get(b, [])}
    seeds = sorted(set(ra) & set(rb))
    if not seeds:
        return None
    return {s: {t: asdict(paired_difference([_score(ra[k], s, t) for k in seeds], [_score(rb[k], s, t) for k in seeds]))
                for t in TASK_METRICS} for s in SPLITS}


def paired_difference(a: list[float | None], b: list[float | None], level: float = 0.95) -> Interval:
    """t-interval of ``a[i] - b[i]`` over the pairs where both are finite (seeds paired)."""
    d = [x - y for x, y in zip(a, b, strict=True)
         if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    return t_interval(d, level)


def verdict(diff: Interval, metric: str, better: str = "pretraining helps", worse: str = "pretraining hurts") -> str:
    """``better`` / ``worse`` when the interval of a difference (pretrained - other) excludes 0 in the
    metric's better / worse direction, else ``no detectable difference`` (``n/a`` under 2 seeds)."""
    if diff.n < 2 or not math.isfinite(diff.low):
        return "n/a (fewer than 2 seeds)"
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    lo, hi = sorted((sign * diff.low, sign * diff.high))
    if lo > 0:
        return better
    if hi < 0:
        return worse
    return "no detectable difference"


# ============================================================================ markdown
def _iv(d: dict[str, Any]) -> Interval:
    return Interval(**d)


def markdown(summary: dict[str, Any], runs: list[dict[str, Any]], *, plots: list[str] | None = None) -> str:
    """The report's Markdown (see the module docstring)."""
    seeds = sorted({r["seed"] for r in runs})
    budget = runs[0].get("budget") if runs else "?"
    lines = ["# Generation-pretraining ablation (issue 17)", "",
             (f"Budget `{budget}`, {len(runs)} runs, seeds {seeds}. Every cell: mean over seeds "
              "± half-width of the 95 % t-interval. Rows of specialists show only their own task; "
              "`specialists` combines them (each on its own task), `head specialists` the plain-head "
              "specialists (no `head-instance`: instances have no plain head)."), ""]
    head = "| arm | " + " | ".join(TASK_LABELS[t] for t in TASK_METRICS) + " |"
    for split in SPLITS:
        lines += [f"## Scores on synthetic {split}", "", head, "|---|" + "---|" * len(TASK_METRICS)]
        for arm in summary["arms"]:
            cells = [_iv(summary["scores"][arm][split][t]).format() for t in TASK_METRICS]
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
        lines.append("")
    if summary["differences"]:
        lines += ["## Pretrained minus other arms (paired by seed)", "",
                  "| split | vs | task | difference | reading |", "|---|---|---|---|---|"]
        for other, per_split in summary["differences"].items():
            for split in SPLITS:
                for t in TASK_METRICS:
                    iv = _iv(per_split[split][t])
                    if iv.n == 0:
                        continue
                    lines.append(f"| {split} | {other} | {TASK_LABELS[t]} | {iv.format()} | "
                                 f"{verdict(iv, TASK_METRICS[t])} |")
        lines.append("")
    for a, b, better, worse in CONTRASTS:
        per_split = summary.get("contrasts", {}).get(f"{a} - {b}")
        if not per_split:
            continue
        lines += [f"## {a} minus {b} (paired by seed)", "", "| split | task | difference | reading |",
                  "|---|---|---|---|"]
        for split in SPLITS:
            for t in TASK_METRICS:
                iv = _iv(per_split[split][t])
                if iv.n:
                    lines.append(f"| {split} | {TASK_LABELS[t]} | {iv.format()} | "
                                 f"{verdict(iv, TASK_METRICS[t], better, worse)} |")
        lines.append("")
    lines += ["## Compute and generation", "",
              ("| arm | seeds | steps | vision share | pretraining steps | images (instruction) | vision samples "
               "| images (with pretraining) | minutes (with pretraining) | gen. loss before | gen. loss after |"),
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for arm, c in summary["compute"].items():
        lines.append(f"| {arm} | {c['seeds']} | {c['steps']} | {c['vision_share'] * 100:g} % | {c['pretrain_steps']} | "
                     f"{_iv(c['instruct_images']).format(0)} | {_iv(c['vision_samples_expected']).format(0)} | "
                     f"{_iv(c['total_images']).format(0)} | {_iv(c['total_minutes']).format(1)} | "
                     f"{_iv(c['gen_loss_before']).format(4)} | {_iv(c['gen_loss_after']).format(4)} |")
    lines += ["", ("Minutes are wall-clock on the run's device; vision samples are images x vision share "
              "(expected counts). The generation loss is the flow-matching loss on held-out val "
              "text-to-image and editing samples (fixed noise), of the starting weights (before: the "
              "pretraining, or the random initialisation) and of the tuned model (after)."), ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots] + [""]
    sheets = [(arm, c.get("samples_before"), c.get("samples_after")) for arm, c in summary["compute"].items()
              if c.get("samples_after")]
    if sheets:
        lines += ["## Sample sheets (seed 0)", "",
                  ("Top row: text-to-image from val captions; bottom row: a val scene and the depth, normals "
                   "and semantic drawings of it. Plain heads (`head-*`) cannot generate: val scenes on top, "
                   "the head's answers drawn in its task's colour code below."), "", "| arm | before tuning | after tuning |", "|---|---|---|"]
        for arm, before, after in sheets:
            b = f"![]({before})" if before else "random initialisation"
            lines.append(f"| {arm} | {b} | ![]({after}) |")
        lines.append("")
    return "\n".join(lines)


# ============================================================================ plots
def _plot_tasks(series: dict[str, list[tuple[float, Interval]]], xlabel: str, path: Path, *,
                logx: bool = False, title: str = "", reference: dict[str, float] | None = None) -> Path:
    """One panel per task; ``series`` maps ``"<task>|<label>"`` to (x, interval) points; ``reference``
    (task -> value: the untrained model's val score) is drawn as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7), squeeze=False)
    for ax, task in zip(axes.ravel(), TASK_METRICS, strict=True):
        for key, pts in series.items():
            t, label = key.split("|", 1)
            pts = sorted((x, iv) for x, iv in pts if t == task and iv.n > 0)
            if not pts:
                continue
            xs = [x for x, _ in pts]
            ys = [iv.mean for _, iv in pts]
            err = [0.0 if not math.isfinite(iv.half_width) else iv.half_width for _, iv in pts]
            ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
        ref = (reference or {}).get(task)
        if ref is not None and math.isfinite(ref):
            ax.axhline(ref, color="grey", linestyle="--", linewidth=1, label="untrained (val)")
        ax.set_title(TASK_LABELS[task])
        ax.set_xlabel(xlabel)
        if logx:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_vision_share(summary: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> Path | None:
    """Score vs vision share (%): the ``share-*`` arms and ``pretrained`` (the recipe's share)."""
    arms = sorted({r["arm"] for r in runs if r.get("family") == "vision-share" or r["arm"] == "pretrained"})
    if len(arms) < 2:
        return None
    share = {r["arm"]: r["vision_share"] * 100 for r in runs}
    series = {f"{t}|{s}": [(share[a], _iv(summary["scores"][a][s][t])) for a in arms]
              for t in TASK_METRICS for s in SPLITS}
    return _plot_tasks(series, "vision share (%)", path, logx=True, title="score vs vision share (equal steps)",
                       reference=_reference(summary))


def plot_pretrain_compute(summary: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> Path | None:
    """Score vs the share of the pretraining the instruction tuning starts from."""
    fam = [r for r in runs if r.get("family") == "pretrain-compute"]
    covered = {r.get("pretrain_fraction") for r in fam}
    fam += [r for r in runs if r["arm"] in ("pretrained", "scratch") and r.get("pretrain_fraction") not in covered]
    arms = sorted({r["arm"] for r in fam})
    if len(arms) < 2:
        return None
    frac = {r["arm"]: r.get("pretrain_fraction", 0.0) * 100 for r in fam}
    series = {f"{t}|{s}": [(frac[a], _iv(summary["scores"][a][s][t])) for a in arms]
              for t in TASK_METRICS for s in SPLITS}
    return _plot_tasks(series, "pretraining used (% of the budget's steps)", path,
                       title="score vs pretraining compute", reference=_reference(summary))


def _reference(summary: dict[str, Any]) -> dict[str, float]:
    """The ``untrained`` arm's mean val score per task (empty when it did not run)."""
    ref = summary["scores"].get(REFERENCE_ARM)
    return {t: ref["val"][t]["mean"] for t in TASK_METRICS} if ref else {}


def plot_score_vs_compute(summary: dict[str, Any], runs: list[dict[str, Any]], path: Path) -> Path | None:
    """Val score vs images seen (pretraining included) of ``pretrained`` and ``scratch``, from the
    snapshots of every seed (mean and interval over seeds at each step)."""
    series: dict[str, list[tuple[float, Interval]]] = {}
    for arm in ("pretrained", "scratch"):
        points: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in runs:
            if r["arm"] == arm:
                for c in r.get("curve", []):
                    points[int(c.get("step") or 0)].append(c)
        if not points:
            continue
        for t in TASK_METRICS:
            series[f"{t}|{arm}"] = [
                (sum(c["total_images"] for c in cs) / len(cs),
                 t_interval([(c.get("val") or {}).get(TASK_METRICS[t]) for c in cs]))
                for _, cs in sorted(points.items())]
    if not series:
        return None
    return _plot_tasks(series, "images seen (pretraining included)", path, title="val score vs training compute",
                       reference=_reference(summary))


# ============================================================================ all of it
def write_report(out: str | Path) -> Path:
    """Write ``OUT/report.md``, ``OUT/summary.json`` and ``OUT/plots/*.png``; returns the report's path.

    Raises:
        ValueError: no run JSON under ``OUT/runs``.
    """
    out = Path(out)
    runs = load_runs(out)
    if not runs:
        raise ValueError(f"no runs under {out / 'runs'}: run the experiment first")
    order = None
    plan = out / "plan.json"
    if plan.is_file():
        try:
            order = [a["name"] for a in json.loads(plan.read_text())["arms"]] + list(COMBINED.values())
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            order = None
    summary = summarize(runs, order)
    plots = []
    for made in (plot_vision_share(summary, runs, out / "plots" / "vision_share.png"),
                 plot_pretrain_compute(summary, runs, out / "plots" / "pretrain_compute.png"),
                 plot_score_vs_compute(summary, runs, out / "plots" / "score_vs_compute.png")):
        if made is not None:
            plots.append(str(made.relative_to(out)))
    write_json(out / "summary.json", {**summary, "plots": plots})
    report = out / "report.md"
    report.write_text(markdown(summary, runs, plots=plots))
    return report
