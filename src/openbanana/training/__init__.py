"""One training loop for every backend (see :mod:`openbanana.training.loop` for launch commands)."""

from openbanana.training.config import ObjectiveConfig, StageConfig, TrainConfig, apply_overrides
from openbanana.training.loop import export_pipeline, train

__all__ = ["ObjectiveConfig", "StageConfig", "TrainConfig", "apply_overrides", "export_pipeline", "train"]
