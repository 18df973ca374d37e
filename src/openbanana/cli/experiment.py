"""``openbanana experiment ...``: reproducible experiments, one command each.

Usage::

    openbanana experiment pretraining-ablation --plan                     # what it would run, how long
    openbanana experiment pretraining-ablation --budget quick --out runs/abl-quick
    openbanana experiment pretraining-ablation --out runs/abl             # the default budget (~3 h, 2 cores)
    openbanana experiment pretraining-ablation --out runs/abl --resume    # continue a killed experiment
    openbanana experiment pretraining-ablation --out runs/abl --arms pretrained,scratch --seeds 5 --resume
    openbanana experiment pretraining-ablation --out runs/abl --report-only

The experiments are :data:`openbanana.experiments.EXPERIMENTS`; the arms, budgets and plan of the
generation-pretraining ablation are in :mod:`openbanana.experiments.pretraining_ablation`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openbanana.experiments import EXPERIMENTS
from openbanana.experiments.pretraining_ablation import DEFAULT_BASE_CONFIG

_REPO_ROOT = Path(__file__).resolve().parents[3]
_ABLATION = EXPERIMENTS.get("pretraining-ablation")
#: help text of --budget (module level: typer reads the annotations in the module's namespace)
BUDGET_HELP = (f"{' | '.join(_ABLATION.budgets)} | <minutes>: quick runs in the test suite, default (every arm) fits 3 hours "
               "on 2 CPU cores, long is the pretrained / scratch comparison at 3x the instruction steps, minutes "
               "scale the default's steps")


def default_base_config() -> Path:
    """``configs/default-cpu.json`` of the working directory, else of the repository holding the package."""
    here = Path(DEFAULT_BASE_CONFIG)
    return here if here.is_file() else _REPO_ROOT / DEFAULT_BASE_CONFIG


def parse_arms(text: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None (the budget's arm set)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--arms is empty: give arm or family names separated by commas")
    return names


def register(app: typer.Typer) -> None:
    """Add the ``experiment`` sub-app to the root app."""
    exp = typer.Typer(help="Reproducible experiments (training several arms, scoring them, a report).",
                      no_args_is_help=True)
    entry = _ABLATION

    @exp.command("pretraining-ablation", help=entry.summary)
    def pretraining_ablation(
        budget: Annotated[str, typer.Option(
            "--budget", help=BUDGET_HELP)] = "default",
        base_config: Annotated[Path | None, typer.Option(
            "--base-config", help="the two-stage recipe every arm is built from (default configs/default-cpu.json)"
        )] = None,
        seeds: Annotated[int | None, typer.Option("--seeds", help="seeds per arm (default: the budget's)")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", "-o", help="experiment folder (default runs/pretraining-ablation-<budget>)")] = None,
        resume: Annotated[bool, typer.Option(
            "--resume", help="continue the experiment in --out: finished runs are skipped, killed ones continue")
        ] = False,
        arms: Annotated[str | None, typer.Option(
            "--arms", help="comma-separated arm or family names (pretrained, scratch, vision-only, "
            "specialist-depth, share-10, pretrain-25, or the families generalist, specialist, vision-share, "
            "pretrain-compute); default: the budget's set")] = None,
        plan_only: Annotated[bool, typer.Option("--plan", help="print the plan and its time estimate, run nothing")
                             ] = False,
        report_only: Annotated[bool, typer.Option(
            "--report-only", help="rebuild the report from the runs already in --out")] = False,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="no training progress bars")] = False,
    ) -> None:
        """Train and score every arm of the generation-pretraining ablation (issue 17), then write the report."""
        from openbanana.experiments.report import write_report

        if plan_only and report_only:
            raise ValueError("--plan and --report-only exclude each other")
        plan = entry.make_plan(budget, base_config or default_base_config(), seeds=seeds, arms=parse_arms(arms))
        folder = out or Path("runs") / f"pretraining-ablation-{plan.budget.name}"
        if plan_only:
            typer.echo(plan.describe())
            return
        if not report_only:
            from openbanana.experiments.runner import run_plan

            typer.echo(plan.describe(), err=True)
            run_plan(plan, folder, resume=resume, progress=not no_progress)
        report = write_report(folder)
        typer.echo(f"report: {report}")

    app.add_typer(exp, name="experiment")
