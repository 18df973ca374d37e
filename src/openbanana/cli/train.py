"""`openbanana train`: run the training loop on a JSON config (one process, or under accelerate launch).

``python -m openbanana.cli.train --config X.json --out DIR`` runs the same command; it is what
``accelerate launch -m`` and ``torch.distributed.run -m`` start (``-m openbanana.training`` is an alias).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from openbanana.cli import main as cli_main


def register(app: typer.Typer) -> None:
    """Add ``openbanana train`` to the root app."""

    @app.command()
    def train(
        out: Annotated[Path, typer.Option("--out", "-o", help="run directory: checkpoints, logs, exported pipeline")],
        config: Annotated[Path | None, typer.Option(
            "--config", "-c", help="training config JSON (configs/*.json); with --resume and no --config: the "
            "run's own train_config.json")] = None,
        override: Annotated[list[str] | None, typer.Option(
            "--override", "-O", help="key=value with dotted paths, repeatable (stages.0.steps=100)")] = None,
        resume: Annotated[Path | None, typer.Option(
            "--resume", help="run directory (its newest checkpoint that verifies; newer torn ones are skipped "
            "with one line on stderr) or one checkpoint folder to resume exactly")] = None,
        max_minutes: Annotated[float | None, typer.Option(
            "--max-minutes", help="wall-clock budget of the run; at the limit it checkpoints and exports")] = None,
        no_progress: Annotated[bool, typer.Option("--no-progress", help="no progress bar")] = False,
    ) -> None:
        """Train a generator (both recipe stages when the config has them) and export a pipeline to OUT.

        Multi-GPU / multi-node: `accelerate launch [...] -m openbanana.training --config X --out DIR`
        (see `openbanana.training.loop` for the commands).
        """
        from openbanana.training.config import TrainConfig
        from openbanana.training.loop import train as run

        overrides = list(override or [])
        if max_minutes is not None:
            overrides.append(f"max_minutes={max_minutes}")
        if config is None:
            if resume is None:
                raise typer.BadParameter("give --config (or --resume a run that has train_config.json)")
            config = resume
        cfg = TrainConfig.load(config, overrides)
        run(cfg, out, resume=resume, progress=not no_progress)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # A process of a multi-process launch leaves without the interpreter's teardown: the run
            # is on disk, its files closed and its process group destroyed (Trainer.export), and in
            # that teardown a finished two-process CPU run once aborted (SIGABRT, "terminate called
            # without an active exception" from a thread of the communication backend), which the
            # launcher reports as a failed run.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """``python -m openbanana.cli.train ARGS``: ``openbanana train ARGS`` (the launchers' entry point)."""
    cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
