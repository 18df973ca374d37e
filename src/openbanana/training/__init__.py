"""One training loop for every backend (see :mod:`openbanana.training.loop` for launch commands)."""

from openbanana.training.config import ObjectiveConfig, StageConfig, TrainConfig, apply_overrides

__all__ = ["ObjectiveConfig", "StageConfig", "TrainConfig", "apply_overrides", "export_pipeline", "train"]


def __getattr__(name: str):  # heavy imports (accelerate) only when the loop is used
    if name in ("train", "export_pipeline"):
        from openbanana.training import loop

        return getattr(loop, name)
    raise AttributeError(name)
