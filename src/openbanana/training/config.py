"""Typed training configuration, saved as ``train_config.json`` beside checkpoints.

Files (``configs/*.json``) and ``--override key=value`` flags only override the dataclass defaults:
a typo fails at load time with the list of valid keys.

A run is a list of **stages** (the paper's recipe is two: generation pretraining, then instruction
tuning with a small share of vision tasks); each stage has its own data mixture, length, learning
rate and warm-up, and the weights (and EMA) flow from one stage to the next.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openbanana.data.training_sources import TRAINING_SOURCES
from openbanana.errors import check_config_keys
from openbanana.pipeline_config import dense_tasks

CONFIG_FILE = "train_config.json"


@dataclass
class StageConfig:
    """One training stage.

    Attributes:
        name: label used in logs and checkpoints (``"pretrain"``, ``"instruct"``).
        data: fields of the data source's config (``MixtureConfig`` for ``"mixture"``); the
            resolution is filled in from :attr:`TrainConfig.resolution` unless given.
        steps: optimiser steps of this stage (the stage also ends at ``max_minutes``).
        max_minutes: wall-clock budget of the stage (None: no limit).
        lr: peak learning rate (AdamW). warmup_steps: linear warm-up from 0.
        min_lr_ratio: cosine decay from ``lr`` to ``lr * min_lr_ratio`` at ``steps``.
        one_step_prob: per-sample probability that a dense vision sample is trained in the
            deterministic one-step mode (overrides ``ObjectiveConfig.one_step_prob`` when set).
    """

    name: str = "pretrain"
    data: dict[str, Any] = field(default_factory=dict)
    steps: int = 1000
    max_minutes: float | None = None
    lr: float = 3e-4
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    one_step_prob: float | None = None


@dataclass
class ObjectiveConfig:
    """Backend-independent parts of the training objective (applied by the loop to each batch).

    Attributes:
        p_drop_text: probability to replace the instruction by ``""`` (classifier-free guidance).
        p_drop_image: probability to drop the input image (``has_cond = False``).
        one_step_prob: probability that a sample of a ``one_step_tasks`` task is trained in the
            one-step mode (input zeros at t = 1; never dropped-out).
        one_step_tasks: tasks eligible for the one-step mode.
        foreground_weight: the largest loss weight of a foreground pixel in a target drawn as
            regions on a background colour (tasks whose answer kind is ``instances`` or ``masks``:
            instance, referring, reasoning). A referred object covers a few percent of its target,
            so under a plain mean squared error the best guess of an unsure model is a dim blur that
            decodes to an empty mask. Each such sample's foreground pixels (every colour but the
            most frequent one) weigh ``sqrt(background area / foreground area)``, clipped to
            ``[1, foreground_weight]``, and the sample's loss is its weighted mean, so samples keep
            their weight in the batch. 0 (the default) = plain mean squared error everywhere.
        foreground_tasks: which of those tasks are weighted (None, the default: all of them). The
            shipped model's instance F1 fell when its instance drawings were weighted too.
        class_balance_weight: the largest loss weight of a pixel in a target drawn as class colours
            (semantic): each pixel weighs ``sqrt(pixels of the most frequent colour / pixels of its
            own colour)``, clipped to ``[1, class_balance_weight]``, and the sample's loss is its
            weighted mean (:func:`~openbanana.training.objective.class_balance_weights`). Under a
            plain mean squared error a room's walls and floor outweigh its table and cups, and an
            unsure model paints them over. 0 (the default) = off.
    """

    p_drop_text: float = 0.1
    p_drop_image: float = 0.1
    one_step_prob: float = 0.5
    one_step_tasks: tuple[str, ...] = field(default_factory=dense_tasks)
    foreground_weight: float = 0.0
    foreground_tasks: tuple[str, ...] | None = None
    class_balance_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.foreground_tasks is not None:
            self.foreground_tasks = tuple(self.foreground_tasks)


@dataclass
class TrainConfig:
    """Everything a run needs; ``openbanana train --config`` fills it from JSON.

    Attributes:
        backend: key in :data:`openbanana.backends.BACKENDS`.
        backend_config: passed to ``BACKENDS.get(backend).from_config`` (e.g. ``{"size": "tiny-m"}``).
        data_source: a key of :data:`openbanana.data.training_sources.TRAINING_SOURCES`:
            ``"mixture"`` (:mod:`openbanana.data.mixture`), ``"flux2"``
            (:mod:`openbanana.data.flux2`: mixture + replay + real sources, weighted) or ``"toy"``
            (:mod:`openbanana.data.toy`, a tiny deterministic source for tests and smoke runs).
        resolution: square training side in pixels.
        stages: the stages, run in order.
        objective: condition dropout and one-step mode (:class:`ObjectiveConfig`).
        batch_size: samples per process per step (global batch = batch_size * processes).
        fresh_per_step: new samples from the data stream per step and process; the rest of the
            batch is replayed from a pool of recent samples (:mod:`openbanana.training.replay`).
            0 (default) = every sample fresh. Use it when rendering is slower than the GPU.
        replay_capacity: samples kept in the replay pool (uint8, on the training device).
        weight_decay, betas, grad_clip: AdamW and gradient-norm clipping (0 = off).
        ema_decay: EMA of the weights (exported); warm-up ``min(decay, (1 + n) / (10 + n))``.
        mixed_precision: ``"auto"`` (bf16 on CUDA, fp32 on CPU), ``"bf16"``, ``"fp16"``, ``"no"``.
        num_workers: DataLoader worker processes per training process (render data on the fly).
        seed: seeds weights, noise, dropout and data.
        max_minutes: wall-clock budget of the whole run; at the limit it checkpoints and exports.
        log_every: steps between TensorBoard/console logs.
        ckpt_every: steps between checkpoints (0: only at the end); keep_checkpoints: how many kept.
        eval_every: steps between held-out loss evaluations (0: only at stage ends).
        eval_batches: held-out batches (fixed seed, fixed noise) per evaluation.
        snapshot_every: steps between exported pipeline snapshots ``OUT/snapshots/step_N``
            (0: none), for score-vs-compute curves.
        init_from: a pipeline directory (or checkpoint) whose weights start the run (stage 2 alone).
        init_exclude: prefixes of weight names that ``init_from`` leaves at their fresh initialisation
            (e.g. ``["text."]`` to keep a model's image weights but start a new text encoder); the
            other weights must all be there, with the same shapes.
        inference: overrides of :class:`openbanana.pipeline_config.InferenceDefaults` to export.
        compile: ``torch.compile`` the backend (GPU).
        fsdp: shard parameters, gradients, optimiser state and EMA across the processes with FSDP2
            (``torch.distributed.fsdp.fully_shard``, one unit per top-level child of the backend plus
            the root), applied by the loop itself, so it works under ``torchrun`` and on CPU (gloo)
            too. ``accelerate launch --config_file configs/accelerate/fsdp.yaml`` (FSDP2) shards
            instead when this is False; checkpoints and exports hold full tensors either way.
    """

    backend: str = "tiny"
    backend_config: dict[str, Any] = field(default_factory=lambda: {"size": "tiny-xs"})
    data_source: str = "mixture"
    resolution: int = 64
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig()])
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    batch_size: int = 16
    fresh_per_step: int = 0
    replay_capacity: int = 20000
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    mixed_precision: str = "auto"
    num_workers: int = 0
    seed: int = 0
    max_minutes: float | None = None
    log_every: int = 20
    ckpt_every: int = 500
    keep_checkpoints: int = 2
    eval_every: int = 0
    eval_batches: int = 2
    snapshot_every: int = 0
    init_from: str | None = None
    init_exclude: list[str] = field(default_factory=list)
    inference: dict[str, Any] = field(default_factory=dict)
    compile: bool = False
    fsdp: bool = False

    def __post_init__(self) -> None:
        self.stages = [StageConfig(**s) if isinstance(s, dict) else s for s in self.stages]
        if isinstance(self.objective, dict):
            self.objective = ObjectiveConfig(**self.objective)
        self.objective.one_step_tasks = tuple(self.objective.one_step_tasks)
        self.betas = tuple(self.betas)
        self.validate()

    def validate(self) -> None:
        problems = []
        if not self.stages:
            problems.append("stages: at least one stage is needed")
        for i, s in enumerate(self.stages):
            if s.steps < 1:
                problems.append(f"stages[{i}].steps must be >= 1, got {s.steps}")
            if s.lr <= 0:
                problems.append(f"stages[{i}].lr must be > 0, got {s.lr}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.fresh_per_step < 0 or self.replay_capacity < 1:
            problems.append("fresh_per_step must be >= 0 and replay_capacity >= 1")
        if self.resolution < 8 or self.resolution % 8:
            problems.append(f"resolution must be a multiple of 8, got {self.resolution}")
        if self.data_source not in TRAINING_SOURCES:
            problems.append(f"data_source must be one of {TRAINING_SOURCES.names()} (the training data sources), "
                            f"got {self.data_source!r}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            problems.append(f"mixed_precision must be auto/bf16/fp16/no, got {self.mixed_precision!r}")
        if not 0 <= self.ema_decay < 1:
            problems.append(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        for k in ("p_drop_text", "p_drop_image", "one_step_prob"):
            v = getattr(self.objective, k)
            if not 0 <= v <= 1:
                problems.append(f"objective.{k} must be in [0, 1], got {v}")
        if not (self.objective.foreground_weight == 0 or self.objective.foreground_weight >= 1):
            problems.append(f"objective.foreground_weight must be 0 (off) or >= 1, got {self.objective.foreground_weight}")
        if not (self.objective.class_balance_weight == 0 or self.objective.class_balance_weight >= 1):
            problems.append(f"objective.class_balance_weight must be 0 (off) or >= 1, got "
                            f"{self.objective.class_balance_weight}")
        if self.objective.foreground_tasks is not None:
            from openbanana.training.objective import region_task  # objective imports this module

            bad = [t for t in self.objective.foreground_tasks if not region_task(t)]
            if bad:
                problems.append(f"objective.foreground_tasks {bad} are not tasks drawn as regions on a background "
                                f"(instance, referring, reasoning)")
        if problems:
            raise ValueError("invalid TrainConfig:\n  " + "\n  ".join(problems))

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["objective"]["one_step_tasks"] = list(self.objective.one_step_tasks)
        if self.objective.foreground_tasks is not None:
            d["objective"]["foreground_tasks"] = list(self.objective.foreground_tasks)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        check_config_keys(cls, d, "TrainConfig")
        for i, s in enumerate(d.get("stages", []) or []):
            check_config_keys(StageConfig, s, f"stages[{i}]")
        if isinstance(d.get("objective"), dict):
            check_config_keys(ObjectiveConfig, d["objective"], "objective")
        return cls(**d)

    def save(self, directory: str | Path) -> Path:
        p = Path(directory)
        p.mkdir(parents=True, exist_ok=True)
        (p / CONFIG_FILE).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return p / CONFIG_FILE

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
        """Read a JSON file (or a directory holding ``train_config.json``) and apply overrides."""
        p = Path(path)
        p = p / CONFIG_FILE if p.is_dir() else p
        if not p.is_file():
            raise FileNotFoundError(f"training config {p} not found")
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p} is not valid JSON: {exc}") from None
        return cls.from_dict(apply_overrides(d, overrides or []))


def apply_overrides(d: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings to a nested dict.

    Keys are dotted paths (``batch_size``, ``backend_config.size``, ``stages.1.steps``); list items
    are addressed by index. Values are parsed as JSON when they parse (``3``, ``0.5``, ``true``,
    ``null``, ``[1,2]``), else kept as strings (``tiny-m``).

    Example:
        >>> apply_overrides({"a": {"b": 1}, "s": [{"n": 1}]}, ["a.b=2", "s.0.n=5", "c=x"])
        {'a': {'b': 2}, 's': [{'n': 5}], 'c': 'x'}
    """
    d = json.loads(json.dumps(d))
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override must look like key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        parts = key.strip().split(".")
        node: Any = d
        for j, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                node = node[_index(part, node, key)]
            else:
                if part not in node or not isinstance(node[part], (dict, list)):
                    node[part] = {}
                node = node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[_index(last, node, key)] = value
        else:
            node[last] = value
    return d


def _index(part: str, node: list, key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ValueError(f"override {key!r}: {part!r} is not an index of a list of {len(node)}")
    return int(part)
