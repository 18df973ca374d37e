"""``openbanana eval`` and ``openbanana report``: the evaluation harness on the command line.

Usage::

    openbanana eval --benchmark synthetic-val --limit 100 --out runs/eval
    openbanana eval --model runs/m1 -b nyuv2 -b kitti --data-root ~/data --out runs/eval
    openbanana eval -b nyuv2 --align scale_shift --data-root ~/data --out runs/eval-affine
    openbanana eval -b synthetic-val --model oracle          # the harness's own self-check
    accelerate launch --num_processes 2 -m openbanana eval -b synthetic-val --out runs/eval
    openbanana report runs/eval/*.json --out runs/report
    openbanana eval --list                                    # the registered benchmarks

``eval`` writes ``<out>/<benchmark>.json`` and ``<out>/<benchmark>-grid.png`` per benchmark and
prints a Markdown table; ``report`` prints paper-shaped tables with published numbers beside ours
and writes ``report.md`` and one plot per task to ``--out``.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer


def _accelerator():
    """An Accelerate accelerator when launched on several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    try:
        from accelerate import Accelerator
    except ImportError:
        raise ValueError("several processes need accelerate: pip install 'openbanana[train]'") from None
    return Accelerator()


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``report`` to the root app."""

    @app.command("eval")
    def eval_cmd(
        benchmark: list[str] = typer.Option([], "--benchmark", "-b", help="benchmark name (repeatable)"),
        model: str = typer.Option(
            None,
            "--model",
            "-m",
            help="saved pipeline dir; default: the embedded model; "
            "'oracle' / 'oracle-noisy' check the harness itself",
        ),
        data_root: Path = typer.Option(None, "--data-root", help="folder holding the data sets (DIR/<name>)"),
        limit: int = typer.Option(None, "--limit", min=1, help="evaluate the first N images only"),
        out: Path = typer.Option(Path("runs/eval"), "--out", "-o", help="where result files go"),
        align: str = typer.Option("none", "--align", help="depth alignment: none | scale | scale_shift"),
        save_predictions: bool = typer.Option(False, "--save-predictions", help="keep decoded outputs"),
        grid: int = typer.Option(4, "--grid", min=0, help="images in the picture grid (0 = none)"),
        seed: int = typer.Option(0, "--seed"),
        query_rewriter: str = typer.Option("identity", "--query-rewriter", help="reasoning query rewriter"),
        synthetic_size: int = typer.Option(128, "--synthetic-size", min=16, help="side of synthetic scenes"),
        list_: bool = typer.Option(False, "--list", help="list the registered benchmarks and exit"),
    ) -> None:
        """Evaluate a model on benchmarks; write a JSON per benchmark and print a Markdown table."""
        from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
        from openbanana.evaluation.harness import run_benchmarks
        from openbanana.evaluation.report import markdown_summary
        from openbanana.evaluation.runner import EvalOptions

        if list_:
            for name, b in BENCHMARKS.items():
                typer.echo(f"{name:18s} {', '.join(b.tasks):40s} {b.get_data}")
            return
        if not benchmark:
            raise ValueError("expected at least one --benchmark NAME (see --list), got none")
        if align not in ("none", "scale", "scale_shift"):
            raise ValueError(f"--align: expected none, scale or scale_shift, got {align!r}")
        opts = EvalOptions(
            limit=limit,
            seed=seed,
            data_root=data_root,
            out_dir=out,
            save_predictions=save_predictions,
            grid=grid,
            query_rewriter=query_rewriter,
            benchmark=BenchmarkOptions(align=align, synthetic_size=synthetic_size),
        )
        for name in benchmark:
            BENCHMARKS.get(name)  # unknown names fail before any model is loaded
        results = run_benchmarks(model, benchmark, opts, accelerator=_accelerator())
        if results:
            typer.echo(markdown_summary(results))
            for r in results:
                for f in r["failures"][:5]:
                    typer.secho(
                        f"failed: {r['benchmark']} {f.get('id')} [{f['stage']}] {f['error']}", err=True
                    )
            typer.echo(f"results in {out}/")

    @app.command("report")
    def report_cmd(
        results: list[Path] = typer.Argument(..., help="result JSON files or folders of them"),
        out: Path = typer.Option(None, "--out", "-o", help="write report.md and plots here"),
    ) -> None:
        """Tables shaped like the paper's, published numbers beside ours, and a plot per task."""
        from openbanana.evaluation.report import load_results, paper_tables, plot_tasks

        docs = load_results(results)
        text = paper_tables(docs)
        typer.echo(text)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "report.md").write_text(text, encoding="utf-8")
            for p in plot_tasks(docs, out):
                typer.echo(f"wrote {p}")
