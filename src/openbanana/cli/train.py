"""`openbanana train`: run the training loop on a JSON config (one process, or under accelerate launch)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``openbanana train`` to the root app."""

    @app.command()
    def train(
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="training config JSON (configs/*.json); "
                                              "default with --resume: the run's own train_config.json"),
        out: Path = typer.Option(..., "--out", "-o", help="run directory: checkpoints, logs, exported pipeline"),
        override: Optional[list[str]] = typer.Option(None, "--override", "-O",
                                                     help="key=value, dotted paths (stages.0.steps=100)"),
        resume: Optional[Path] = typer.Option(None, "--resume", help="run directory or checkpoint to resume"),
        max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="wall-clock budget of the run; "
                                                    "at the limit it checkpoints and exports"),
        no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
    ) -> None:
        """Train a generator (both recipe stages when the config has them) and export a pipeline to OUT.

        Multi-GPU / multi-node: `accelerate launch [...] -m openbanana.training --config X --out DIR`.
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
