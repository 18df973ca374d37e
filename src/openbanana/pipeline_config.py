"""The on-disk layout of a trained pipeline and its typed config.

A pipeline directory, as written by :func:`openbanana.training.loop.export_pipeline`::

    OUT/pipeline.json              PipelineConfig (this module), JSON
    OUT/backend/config.json        the backend's own config (e.g. ``TinyConfig``)
    OUT/backend/model.safetensors  the backend's weights (safetensors only)

``openbanana.pipeline`` reads ``pipeline.json``, looks ``backend`` up in
:data:`openbanana.backends.BACKENDS` and calls ``from_pretrained(OUT / "backend")``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openbanana.errors import check_config_keys
from openbanana.tasks import task_names

PIPELINE_FILE = "pipeline.json"
BACKEND_DIR = "backend"



def dense_tasks() -> tuple[str, ...]:
    """Tasks whose answer is a dense map sampled in the deterministic one-step mode by default: the
    registered tasks that declare ``dense`` (:attr:`openbanana.tasks.Task.dense`), in their order.
    Also readable as ``DENSE_TASKS``, asked of the registry when read (a task registered after
    import is in it)."""
    return task_names(dense=True)


def __getattr__(name: str) -> Any:
    if name == "DENSE_TASKS":
        return dense_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class InferenceDefaults:
    """How the pipeline samples unless the caller says otherwise.

    Attributes:
        num_inference_steps: Euler steps for generation/editing (>= 1).
        one_step_dense: sample the dense vision tasks (``DENSE_TASKS``) in the deterministic
            one-step mode the model was trained for (no noise, one Euler step from t=1).
        dense_tasks: task names that count as dense.
        guidance_text: classifier-free guidance scale on the instruction (1.0 = off).
        guidance_image: classifier-free guidance scale on the input image (1.0 = off).
        ensemble_size: samples combined per prediction for stochastic sampling (1 = off).
        mirror_dense: also answer the left-right mirror of each input for the tasks whose answers
            mirror (depth, normals) and combine the two (a test-time flip; twice their cost).
    """

    num_inference_steps: int = 16
    one_step_dense: bool = True
    dense_tasks: tuple[str, ...] = field(default_factory=dense_tasks)
    guidance_text: float = 1.0
    guidance_image: float = 1.0
    ensemble_size: int = 1
    mirror_dense: bool = False


@dataclass
class PipelineConfig:
    """What ``pipeline.json`` holds.

    Attributes:
        backend: registry key in :data:`openbanana.backends.BACKENDS` (``"tiny"``, ...).
        resolution: square side in pixels the model was trained at; inputs are resized to it
            and answers resized back to the input's size.
        inference: sampling defaults (:class:`InferenceDefaults`).
        training: free-form summary of how the weights were made (steps, images seen, minutes,
            device, data mixture, final losses); for the model card, never read by code paths.
        format_version: layout version of this file.
    """

    backend: str = "tiny"
    resolution: int = 128
    inference: InferenceDefaults = field(default_factory=InferenceDefaults)
    training: dict[str, Any] = field(default_factory=dict)
    format_version: int = 1

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inference"]["dense_tasks"] = list(self.inference.dense_tasks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PipelineConfig:
        check_config_keys(cls, d, "PipelineConfig")
        d = dict(d)
        inf = d.pop("inference", None) or {}
        check_config_keys(InferenceDefaults, inf, "PipelineConfig.inference")
        inf = dict(inf)
        if "dense_tasks" in inf:
            inf["dense_tasks"] = tuple(inf["dense_tasks"])
        cfg = cls(inference=InferenceDefaults(**inf), **d)
        if cfg.resolution < 8 or cfg.resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8 and >= 8, got {cfg.resolution}")
        if cfg.inference.num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {cfg.inference.num_inference_steps}")
        return cfg

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/pipeline.json``; returns its path."""
        p = Path(directory)
        p.mkdir(parents=True, exist_ok=True)
        out = p / PIPELINE_FILE
        out.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return out

    @classmethod
    def load(cls, directory: str | Path) -> PipelineConfig:
        """Read ``directory/pipeline.json`` (a directory, or the file itself)."""
        p = Path(directory)
        f = p if p.is_file() else p / PIPELINE_FILE
        if not f.is_file():
            raise FileNotFoundError(f"no {PIPELINE_FILE} in {p}: expected a directory written by export_pipeline")
        return cls.from_dict(json.loads(f.read_text()))


def backend_dir(directory: str | Path) -> Path:
    """``directory/backend``: where the backend's ``save_pretrained`` output lives."""
    return Path(directory) / BACKEND_DIR
