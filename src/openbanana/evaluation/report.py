"""Result files -> Markdown tables shaped like the paper's, with published numbers beside ours,
and one plot per task.

Tables (only the rows we have results for):

- metric depth (no alignment): delta1 and AbsRel per data set, the paper's mean-delta1 aggregate;
- affine-invariant depth (results run with ``--align scale_shift``) against the best open models;
- surface normals (DSINE protocol): mean and median angle;
- segmentation: Cityscapes mIoU, RefCOCOg cIoU, ReasonSeg gIoU;
- synthetic benchmarks: every task, ours only (no published numbers exist).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from openbanana.errors import OpenBananaError
from openbanana.evaluation.reference import PAPER_AGGREGATES, PAPER_NORMAL_AGGREGATE, best_open, paper_value
from openbanana.evaluation.scoring import SCORERS, Column


def summary_columns(group: str) -> tuple[Column, ...]:
    """The columns a summary shows for a scorer group: its registered scoring's
    (:data:`~openbanana.evaluation.scoring.SCORERS`), none for a group nobody registered."""
    return SCORERS.get(group).columns if group in SCORERS else ()


def load_results(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Read result JSON files (directories are searched for ``*.json``, partials skipped)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            raise OpenBananaError(
                f"{p}: expected a result JSON file or a directory of them, but it does not exist"
            )
    results = []
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise OpenBananaError(f"{f}: expected a result JSON file, got invalid JSON ({exc})") from None
        if not isinstance(doc, dict) or "benchmark" not in doc or "metrics" not in doc:
            raise OpenBananaError(
                f"{f}: expected an openbanana result (keys 'benchmark', 'metrics'), got another JSON"
            )
        doc["_file"] = str(f)
        results.append(doc)
    if not results:
        raise OpenBananaError(f"no result files found in {', '.join(map(str, paths))}")
    return results


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def markdown_summary(results: list[dict[str, Any]]) -> str:
    """One row per (benchmark, task): sample counts, failures and the main metrics."""
    _tag_models(results)
    rows = []
    for r in results:
        for task, m in r["metrics"].items():
            cols = summary_columns(task)
            shown = ", ".join(f"{c.label} {_fmt(m.get(c.metric))}" for c in cols if c.metric in m)
            align = r.get("protocol", {}).get(task, {}).get("alignment")
            rows.append(
                [
                    _label(r),
                    task + (f" ({align})" if align and align != "none" else ""),
                    str(r.get("n_samples", {}).get(task, "")),
                    str(r.get("n_failed", 0)),
                    shown,
                ]
            )
    return _table(["benchmark", "task", "samples", "failed", "metrics"], rows)


def _label(result: dict[str, Any]) -> str:
    """The benchmark's name, with the model's name when results of several models are shown."""
    return result["benchmark"] + (f" [{result['_model']}]" if result.get("_model") else "")


def _tag_models(results: list[dict[str, Any]]) -> None:
    names = {
        str((r.get("model") or {}).get("name") or (r.get("model") or {}).get("path") or "") for r in results
    }
    if len(names) > 1:
        for r in results:
            m = r.get("model") or {}
            r["_model"] = str(m.get("name") or m.get("path") or "?")


def _ref_key(result: dict[str, Any]) -> str:
    return result.get("reference") or result["benchmark"]


def _find(results, task, align=None):
    out = []
    for r in results:
        if task not in r["metrics"]:
            continue
        a = r.get("protocol", {}).get(task, {}).get("alignment", "none")
        if align is None or a == align or (align == "affine" and a != "none"):
            out.append(r)
    return out


def paper_tables(results: list[dict[str, Any]]) -> str:
    """The paper-shaped tables as Markdown (see the module docstring)."""
    _tag_models(results)
    parts: list[str] = []
    real = [r for r in results if not r["benchmark"].startswith("synthetic")]

    depth = _find(real, "depth", "none")
    if depth:
        rows, per_bench = [], {}
        for r in depth:
            key, m = _ref_key(r), r["metrics"]["depth"]
            per_bench[key] = m["delta1"]
            bo = best_open(key, "depth", "delta1")
            rows.append(
                [
                    _label(r),
                    _fmt(m["delta1"]),
                    _fmt(m["abs_rel"]),
                    _fmt(paper_value(key, "depth", "delta1")),
                    _fmt(paper_value(key, "depth", "abs_rel")),
                    f"{_fmt(bo.value)} ({bo.system})" if bo else "–",
                ]
            )
        for name, keys, metric, vb in PAPER_AGGREGATES:
            if all(k in per_bench for k in keys):
                ours = sum(per_bench[k] for k in keys) / len(keys)
                rows.append([f"**{name}**", _fmt(ours), "", _fmt(vb), "", ""])
        parts.append(
            "### Metric depth (no alignment)\n\n"
            + _table(["benchmark", "ours δ1", "ours AbsRel", "VB δ1", "VB AbsRel", "best open δ1"], rows)
        )

    affine = _find(real, "depth", "affine")
    if affine:
        rows = []
        for r in affine:
            key, m = _ref_key(r), r["metrics"]["depth"]
            bo_a, bo_d = (
                best_open(key, "depth-affine", "abs_rel", False),
                best_open(key, "depth-affine", "delta1"),
            )
            rows.append(
                [
                    _label(r),
                    _fmt(m["abs_rel"]),
                    _fmt(m["delta1"]),
                    f"{_fmt(bo_a.value)} ({bo_a.system})" if bo_a else "–",
                    f"{_fmt(bo_d.value)} ({bo_d.system})" if bo_d else "–",
                ]
            )
        parts.append(
            "### Affine-invariant depth (per-image least-squares scale and shift)\n\n"
            + _table(["benchmark", "ours AbsRel", "ours δ1", "best open AbsRel", "best open δ1"], rows)
        )

    normals = _find(real, "normals")
    if normals:
        rows = []
        for r in normals:
            key, m = _ref_key(r), r["metrics"]["normals"]
            bo = best_open(key, "normals", "mean", higher_is_better=False)
            rows.append(
                [
                    _label(r),
                    _fmt(m["mean"], 2),
                    _fmt(m["median"], 2),
                    _fmt(paper_value(key, "normals", "mean"), 2),
                    _fmt(paper_value(key, "normals", "median"), 2),
                    f"{_fmt(bo.value, 2)} ({bo.system})" if bo else "–",
                ]
            )
        name, keys, vb = PAPER_NORMAL_AGGREGATE
        per = {_ref_key(r): r["metrics"]["normals"]["mean"] for r in normals}
        if all(k in per for k in keys):
            rows.append(
                [f"**{name}**", _fmt(sum(per[k] for k in keys) / len(keys), 2), "", _fmt(vb, 2), "", ""]
            )
        parts.append(
            "### Surface normals (DSINE protocol, degrees, lower is better)\n\n"
            + _table(
                ["benchmark", "ours mean", "ours median", "VB mean", "VB median", "best open mean"], rows
            )
        )

    rows = []
    for task in ("semantic", "referring", "reasoning"):
        metric = SCORERS.get(task).primary
        for r in _find(real, task):
            key, m = _ref_key(r), r["metrics"][task]
            bo = best_open(key, task, metric)
            rows.append(
                [
                    _label(r),
                    f"{task}, {metric}",
                    _fmt(m[metric]),
                    _fmt(paper_value(key, task, metric)),
                    f"{_fmt(bo.value)} ({bo.system})" if bo else "–",
                ]
            )
    if rows:
        parts.append(
            "### Segmentation (zero-shot)\n\n"
            + _table(["benchmark", "metric", "ours", "VB", "best open"], rows)
        )

    synth = [r for r in results if r["benchmark"].startswith("synthetic")]
    if synth:
        parts.append("### Synthetic benchmarks (ours only)\n\n" + markdown_summary(synth))

    failed = [r for r in results if r.get("n_failed")]
    if failed:
        parts.append(
            "Failed samples (counted, not averaged in): "
            + ", ".join(f"{r['benchmark']} {r['n_failed']}" for r in failed)
        )
    parts.append(
        "VB = Vision Banana (arXiv 2604.20329); best open = best published open system "
        "(sources in openbanana/evaluation/reference.py)."
    )
    return "\n\n".join(parts) + "\n"


def plot_tasks(results: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """One bar chart per task group: ours, Vision Banana and the best open number per benchmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        for task in r["metrics"]:
            by_task.setdefault(task, []).append(r)
    for task, rs in sorted(by_task.items()):
        if not summary_columns(task):
            continue
        scoring = SCORERS.get(task)
        metric, label, hib = scoring.primary, scoring.columns[0].label, scoring.higher_is_better
        names = [_label(r) for r in rs]
        ours = [r["metrics"][task].get(metric, float("nan")) for r in rs]
        vb = [paper_value(_ref_key(r), task, metric) for r in rs]
        bo = [best_open(_ref_key(r), task, metric, hib) for r in rs]
        fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(rs) + 2), 3.2))
        x = range(len(rs))
        w = 0.27
        ax.bar([i - w for i in x], ours, w, label="openbanana")
        ax.bar(list(x), [v if v is not None else 0 for v in vb], w, label="Vision Banana")
        ax.bar([i + w for i in x], [b.value if b else 0 for b in bo], w, label="best open")
        ax.set_xticks(list(x), names, rotation=20, ha="right")
        ax.set_ylabel(f"{label} ({'higher' if hib else 'lower'} is better)")
        ax.set_title(task)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / f"report-{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
