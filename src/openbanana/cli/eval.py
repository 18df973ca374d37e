"""``openbanana eval`` and ``openbanana report``: the evaluation harness on the command line.

Usage::

    openbanana eval --benchmark synthetic-val --limit 100 --out runs/eval
    openbanana eval --model runs/m1 -b nyuv2 -b kitti --data-root ~/data --out runs/eval
    openbanana eval -b nyuv2 --align scale_shift --data-root ~/data --out runs/eval-affine
    openbanana eval -b synthetic-val --model oracle          # the harness's own self-check
    accelerate launch --multi_gpu --num_processes 4 -m openbanana eval -b synthetic-val --out runs/eval
    torchrun --standalone --nproc_per_node 2 -m openbanana eval -b synthetic-val --out runs/eval   # CPU
    openbanana report runs/eval/*.json --out runs/report
    openbanana eval --list                                    # the registered benchmarks

``eval`` writes ``<out>/<benchmark>.json`` and ``<out>/<benchmark>-grid.png`` per benchmark and
prints a Markdown table; ``report`` prints paper-shaped tables with published numbers beside ours
and writes ``report.md`` and one plot per task to ``--out``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from openbanana.data.sources.refcocog import convert_refs


def _accelerator():
    """An Accelerate accelerator when launched on several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    try:
        from accelerate import Accelerator
    except ImportError:
        raise ValueError("several processes need accelerate: pip install 'openbanana[train]'") from None
    import torch

    # without a GPU, Accelerate needs cpu=True to join the gloo process group torchrun set up
    return Accelerator(cpu=not torch.cuda.is_available())


def register(app: typer.Typer) -> None:
    """Add ``eval`` and ``report`` to the root app."""

    @app.command("eval")
    def eval_cmd(
        benchmark: Annotated[
            list[str] | None, typer.Option("--benchmark", "-b", help="benchmark (repeatable)")
        ] = None,
        model: Annotated[
            str | None,
            typer.Option(
                "--model",
                "-m",
                help="saved pipeline dir (default: the embedded model); 'oracle' / 'oracle-noisy' check the harness",
            ),
        ] = None,
        data_root: Annotated[
            Path | None, typer.Option("--data-root", help="folder holding the data sets")
        ] = None,
        limit: Annotated[
            int | None, typer.Option("--limit", min=1, help="evaluate the first N images only")
        ] = None,
        out: Annotated[Path, typer.Option("--out", "-o", help="where result files go")] = Path("runs/eval"),
        align: Annotated[
            str, typer.Option("--align", help="depth alignment: none | scale | scale_shift")
        ] = "none",
        save_predictions: Annotated[
            bool, typer.Option("--save-predictions", help="keep decoded outputs")
        ] = False,
        grid: Annotated[int, typer.Option("--grid", min=0, help="images in the picture grid (0 = none)")] = 4,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        query_rewriter: Annotated[
            str, typer.Option("--query-rewriter", help="reasoning query rewriter")
        ] = "identity",
        synthetic_size: Annotated[
            int, typer.Option("--synthetic-size", min=16, help="synthetic scene side")
        ] = 128,
        device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda | cuda:N")] = "auto",
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="questions per model call")] = 8,
        steps: Annotated[
            int | None, typer.Option("--steps", min=1, help="sampling steps (N-step mode)")
        ] = None,
        ensemble_size: Annotated[
            int, typer.Option("--ensemble-size", min=1, help="samples combined per image")
        ] = 1,
        one_step: Annotated[
            bool | None, typer.Option("--one-step/--no-one-step", help="force / forbid the one-step mode")
        ] = None,
        list_: Annotated[
            bool, typer.Option("--list", help="list the registered benchmarks and exit")
        ] = False,
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
            batch_size=batch_size,
            model_kwargs={
                k: v for k, v in {"num_inference_steps": steps, "one_step": one_step}.items() if v is not None
            }
            | ({"ensemble_size": ensemble_size} if ensemble_size != 1 else {}),
            benchmark=BenchmarkOptions(align=align, synthetic_size=synthetic_size),
        )
        for name in benchmark:
            BENCHMARKS.get(name)  # unknown names fail before any model is loaded
        results = run_benchmarks(model, benchmark, opts, accelerator=_accelerator(), device=device)
        if results:
            typer.echo(markdown_summary(results))
            for r in results:
                if r.get("complete") is False and r.get("limit") is None:
                    typer.secho(
                        f"warning: {r['benchmark']}: {r['n_requested']} images found, the official split has "
                        f"{r['expected_len']}; the numbers are not comparable to published ones",
                        err=True,
                    )
                for f in r["failures"][:5]:
                    typer.secho(
                        f"failed: {r['benchmark']} {f.get('id')} [{f['stage']}] {f['error']}", err=True
                    )
            typer.echo(f"results in {out}/")

    @app.command("convert-refs")
    def convert_refs_cmd(
        pickle_path: Annotated[Path, typer.Argument(help="the refer toolkit's refs(umd).p")],
        json_path: Annotated[Path, typer.Argument(help="where to write refs_umd.json")],
    ) -> None:
        """Convert RefCOCOg refs from the refer toolkit's pickle to JSON, once (no code is loaded)."""
        n = convert_refs(pickle_path, json_path)
        typer.echo(f"wrote {n} refs to {json_path}")

    @app.command("convert-nyu")
    def convert_nyu_cmd(
        labeled_mat: Annotated[Path, typer.Argument(help="nyu_depth_v2_labeled.mat (needs h5py)")],
        splits_mat: Annotated[Path, typer.Argument(help="splits.mat (testNdxs)")],
        out: Annotated[Path, typer.Argument(help="the nyuv2 folder to write (DATA_ROOT/nyuv2)")],
    ) -> None:
        """Extract NYUv2's 654-image Eigen test split from the official files into the nyuv2 layout."""
        from openbanana.data.sources.nyuv2 import convert_nyu_mat

        n = convert_nyu_mat(labeled_mat, splits_mat, out)
        typer.echo(f"wrote {n} test images to {out}")

    @app.command("report")
    def report_cmd(
        results: Annotated[list[Path], typer.Argument(help="result JSON files or folders of them")],
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="write report.md and plots here")
        ] = None,
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
