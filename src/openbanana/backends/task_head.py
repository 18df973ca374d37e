"""A plain task head on the generator's backbone: the specialist that answers in numbers, not colours.

Issue 17 asks whether the colour-code formulation itself costs anything: the same network, trained
on the same samples of one task, once as a generator drawing the task's colour code
(:class:`~openbanana.backends.tiny.TinyBackend` in the one-step mode) and once as a plain
regression / classification network whose last layer outputs the task's quantities directly.
This backend is the second one: a :class:`~openbanana.backends.tiny.TinyUNet` (the same
architecture, text encoder included) whose output layer has the head's channels, run once per
image (input zeros at ``t = 1``, the one-step mode's call), with the loss of its answer kind:

============  ===============================  =========================================  ======================
answer kind   channels                         loss                                       answer
============  ===============================  =========================================  ======================
``depth``     1: log depth (metres)            L1 of log depth over valid pixels          ``exp``
``normals``   3                                ``1 - cos`` over valid pixels              unit vectors
``labels``    one logit per class              cross-entropy (void and unknown ignored)   argmax; void when the
                                                                                          class is not in the
                                                                                          instruction's palette
``masks``     one logit per target (at most    binary cross-entropy per target            ``sigmoid > 0.5``
              ``max_masks``, in the
              instruction's order)
============  ===============================  =========================================  ======================

Instance segmentation (``instances``) has no plain head: a fixed number of output channels cannot
hold a variable number of instances, and the usual ways (embeddings and clustering, detection
heads) are not a plain head; :class:`TaskHeadConfig` refuses it.

Training needs no new data: the training samples are the colour-code samples of the mixture, and the
head's targets are their drawings read back with the task's own decoder under the instruction's
spec (the codes are invertible; depth and normals lose only their 8-bit quantisation). At inference
the head draws its answer in the task's colour code (:meth:`TaskHeadBackend.sample`), so the
pipeline, the evaluation and every scorer treat it exactly as they treat a generator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from openbanana.backends.base import BACKENDS, Batch
from openbanana.backends.tiny import TinyConfig, TinyUNet, load_backend, save_backend
from openbanana.batch import image_to_unit, unit_to_u8
from openbanana.errors import check_config_keys
from openbanana.registry import Registry
from openbanana.tasks import TASKS, Task

VOID = 255
#: log depth is clamped to this range before ``exp`` (1 mm .. 22 km)
_LOG_DEPTH_RANGE = (-7.0, 10.0)


# ============================================================================ config
@dataclass
class TaskHeadConfig:
    """What :class:`TaskHeadBackend` is (saved as ``config.json`` beside the weights).

    Attributes:
        task: the one task it answers (a registered task whose answer kind has a head, :data:`HEADS`).
        backbone: the :class:`~openbanana.backends.tiny.TinyConfig` dict (``{"size": "fold-w"}``);
            its ``out_channels`` and ``prediction`` are set by the head.
        classes: ``labels`` heads: the class names, one output channel each (a palette's class that
            is not among them is never predicted and not trained on).
        max_masks: ``masks`` heads: the most targets one instruction may name.
    """

    task: str
    backbone: dict[str, Any] = field(default_factory=lambda: {"size": "tiny-xs"})
    classes: list[str] = field(default_factory=list)
    max_masks: int = 3

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task head: unknown task {self.task!r}; expected one of {', '.join(TASKS.names())}")
        kind = TASKS.get(self.task).answer_kind
        if kind not in HEADS:
            raise ValueError(f"task head: {self.task!r} answers with {kind!r}, which has no plain head (heads exist "
                             f"for {', '.join(HEADS.names())}); a variable number of instances does not fit a fixed "
                             "number of output channels")
        self.classes = [str(c) for c in self.classes]
        if kind == "labels" and (not self.classes or len(set(self.classes)) != len(self.classes)):
            raise ValueError(f"task head: {self.task!r} needs classes=[name, ...] (distinct), got {self.classes!r}")
        if self.max_masks < 1:
            raise ValueError(f"task head: max_masks must be >= 1, got {self.max_masks}")

    @property
    def head(self) -> Head:
        return HEADS.get(TASKS.get(self.task).answer_kind)

    def backbone_config(self) -> TinyConfig:
        """The backbone with the head's output channels (and the plain ``v`` output: no image to predict)."""
        return TinyConfig.from_dict({**self.backbone, "out_channels": self.head.channels(self), "prediction": "v"})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ============================================================================ heads (the math)
class Head:
    """One answer kind's output channels, loss and answer. ``targets`` come from the task's decoder."""

    kind: ClassVar[str]

    def channels(self, cfg: TaskHeadConfig) -> int:
        raise NotImplementedError

    def loss(self, out: torch.Tensor, answer: Any, spec: dict[str, Any], cfg: TaskHeadConfig) -> torch.Tensor:
        """Loss of one sample: ``out`` ``[C, H, W]``, ``answer`` the decoded target (:class:`Answer`)."""
        raise NotImplementedError

    def answer(self, out: torch.Tensor, spec: dict[str, Any], task: Task, cfg: TaskHeadConfig) -> Any:
        """The value :meth:`Task.encode` draws, from one sample's ``out`` ``[C, H, W]``."""
        raise NotImplementedError


#: answer kind -> :class:`Head`
HEADS: Registry[Head] = Registry("task head")


def _masked_mean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over ``valid`` (0, with the graph kept, when nothing is valid)."""
    valid = valid.to(x.dtype)
    return (x * valid).sum() / valid.sum().clamp(min=1.0)


class DepthHead(Head):
    kind = "depth"

    def channels(self, cfg: TaskHeadConfig) -> int:
        return 1

    def loss(self, out, answer, spec, cfg):
        d = torch.as_tensor(np.asarray(answer.value, np.float32), device=out.device)  # [H, W] metres
        valid = torch.isfinite(d) & (d > 0)
        log_d = torch.log(torch.where(valid, d, torch.ones_like(d)))
        return _masked_mean((out[0] - log_d).abs(), valid)

    def answer(self, out, spec, task, cfg):
        return torch.exp(out[0].float().clamp(*_LOG_DEPTH_RANGE)).cpu().numpy().astype(np.float32)


class NormalsHead(Head):
    kind = "normals"

    def channels(self, cfg: TaskHeadConfig) -> int:
        return 3

    def loss(self, out, answer, spec, cfg):
        n = torch.as_tensor(np.asarray(answer.value, np.float32), device=out.device).permute(2, 0, 1)  # [3, H, W]
        valid = torch.ones(n.shape[1:], dtype=torch.bool, device=out.device) if answer.valid is None else \
            torch.as_tensor(np.asarray(answer.valid, bool), device=out.device)
        cos = (F.normalize(out.float(), dim=0, eps=1e-6) * n).sum(0)
        return _masked_mean(1.0 - cos, valid)

    def answer(self, out, spec, task, cfg):
        return F.normalize(out.float(), dim=0, eps=1e-6).permute(1, 2, 0).cpu().numpy().astype(np.float32)


class LabelsHead(Head):
    """One logit per class of the config; the instruction's palette says which classes it names."""

    kind = "labels"

    def channels(self, cfg: TaskHeadConfig) -> int:
        return len(cfg.classes)

    @staticmethod
    def _palette_ids(spec: dict[str, Any], task: Task, cfg: TaskHeadConfig) -> list[int]:
        """For each palette label, its class's channel (-1 when the head has no such class)."""
        index = {c: i for i, c in enumerate(cfg.classes)}
        return [index.get(name, -1) for name in task.class_names(spec) or []]

    def loss(self, out, answer, spec, cfg):
        ids = self._palette_ids(spec, TASKS.get(cfg.task), cfg)
        lut = np.full(256, VOID, np.int64)  # palette label -> class channel; void and unknown -> ignored
        lut[: len(ids)] = [i if i >= 0 else VOID for i in ids]
        target = torch.as_tensor(lut[np.asarray(answer.value, np.int64).clip(0, 255)], device=out.device)
        ce = F.cross_entropy(out.float()[None], target[None], ignore_index=VOID, reduction="none")[0]
        return _masked_mean(ce, target != VOID)

    def answer(self, out, spec, task, cfg):
        ids = self._palette_ids(spec, task, cfg)
        channel_to_label = np.full(len(cfg.classes), VOID, np.int64)  # classes the palette lacks -> void
        for label, ch in enumerate(ids):
            if ch >= 0:
                channel_to_label[ch] = label
        return channel_to_label[out.argmax(0).cpu().numpy()]


class MasksHead(Head):
    """One logit per target, in the order the instruction names them."""

    kind = "masks"

    def channels(self, cfg: TaskHeadConfig) -> int:
        return cfg.max_masks

    def loss(self, out, answer, spec, cfg):
        m = torch.as_tensor(np.asarray(answer.value, bool), device=out.device)[: cfg.max_masks]  # [N, H, W]
        return F.binary_cross_entropy_with_logits(out[: m.shape[0]].float(), m.float())

    def answer(self, out, spec, task, cfg):
        n = mask_count(task, spec)
        if n > cfg.max_masks:
            raise ValueError(f"task head: the instruction names {n} targets; this head answers at most {cfg.max_masks}")
        return (out[:n] > 0).cpu().numpy()  # sigmoid > 0.5


def mask_count(task: Task, spec: dict[str, Any]) -> int:
    """How many masks ``spec`` asks for: what the task's decoder returns for a one-pixel drawing."""
    return int(np.asarray(task.decode(np.zeros((1, 1, 3), np.uint8), **spec).value).shape[0])


for _head in (DepthHead(), NormalsHead(), LabelsHead(), MasksHead()):
    HEADS.register(_head.kind, _head)


# ============================================================================ backend
@BACKENDS.register("task-head")
class TaskHeadBackend(nn.Module):
    """:class:`~openbanana.backends.base.GeneratorBackend` of one task answered by a plain head.

    It trains and samples only its task; it cannot generate images (text-to-image, editing).
    """

    name = "task-head"

    def __init__(self, cfg: TaskHeadConfig) -> None:
        super().__init__()
        self.config = cfg
        self.task = TASKS.get(cfg.task)
        self.head = cfg.head
        self.net = TinyUNet(cfg.backbone_config())

    @classmethod
    def from_config(cls, d: dict[str, Any] | TaskHeadConfig) -> TaskHeadBackend:
        """A fresh, randomly initialised head (``{"task": "depth", "backbone": {"size": "fold-w"}}``).

        Raises:
            ValueError: unknown keys, or a config :class:`TaskHeadConfig` refuses.
        """
        if isinstance(d, TaskHeadConfig):
            return cls(d)
        check_config_keys(TaskHeadConfig, d, "the task head's config")
        return cls(TaskHeadConfig(**d))

    def _outputs(self, cond: torch.Tensor, has_cond: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """The head's raw outputs ``[B, C, H, W]`` for images ``cond`` ``[B, 3, H, W]`` in [-1, 1]."""
        B, dev = cond.shape[0], cond.device
        text = self.net.encode_text(prompts, device=dev)
        ones = torch.ones(B, dtype=torch.bool, device=dev)
        return self.net(torch.zeros_like(cond), torch.ones(B, device=dev), cond, has_cond.to(dev), text, ones)

    def _spec(self, prompt: str) -> dict[str, Any]:
        return self.task.spec_from_instruction(prompt)

    # ---------------------------------------------------------------- training
    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.training_loss(batch, generator)

    def training_loss(self, batch: Batch, generator: torch.Generator | None = None, *,
                      auxiliary: bool = True) -> torch.Tensor:
        """Mean over the batch's samples of this task of the head's loss; the targets are the samples'
        drawings read back by the task's decoder under their instructions' specs. Samples of other
        tasks (the mixture's fallback when no scene gives the task) are left out. ``auxiliary``: the
        protocol's switch for auxiliary losses; a head has none.

        Raises:
            ValueError: no target, no sample of this task, or one without an input image or instruction.
        """
        if batch.target is None:
            raise ValueError("training_loss needs batch.target, got None")
        tasks = batch.tasks or [self.config.task] * len(batch.prompts)
        out = self._outputs(batch.cond, batch.has_cond, batch.prompts)
        drawings = unit_to_u8(batch.target).permute(0, 2, 3, 1).cpu().numpy()  # [B, H, W, 3]
        losses = []
        for i, (task, prompt) in enumerate(zip(tasks, batch.prompts, strict=True)):
            if task != self.config.task:
                continue
            if not prompt or not bool(batch.has_cond[i]):
                raise ValueError(f"task head ({self.config.task}): sample {i} lacks its instruction or input "
                                 "image (train heads with objective.p_drop_text = p_drop_image = 0)")
            spec = self._spec(prompt)
            losses.append(self.head.loss(out[i], self.task.decode(drawings[i], **spec), spec, self.config))
        if not losses:
            raise ValueError(f"task head ({self.config.task}): no sample of its task in the batch (tasks {tasks}); "
                             "it has no loss on other tasks, generation included")
        return torch.stack(losses).mean()

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, cond: torch.Tensor | None, prompts: list[str], *, height: int, width: int,
               **ignored: Any) -> torch.Tensor:
        """The head's answers drawn in the task's colour code: ``[B, 3, height, width]`` in [-1, 1].

        Sampling options of generators (steps, guidance, noise, one-step) do not apply and are ignored.

        Raises:
            ValueError: no input image (a head cannot generate), or shapes that do not match.
            InstructionError: an instruction that does not ask for this task's spec.
        """
        if cond is None:
            raise ValueError(f"a task head ({self.config.task}) answers about an input image; it cannot generate "
                             "images from text")
        B = len(prompts)
        if cond.dim() != 4 or cond.shape[0] != B or cond.shape[1] != 3 or tuple(cond.shape[-2:]) != (height, width):
            raise ValueError(f"cond must be [B={B}, 3, {height}, {width}], got {tuple(cond.shape)}")
        dev = next(self.parameters()).device
        specs = [self._spec(p) for p in prompts]
        out = self._outputs(cond.to(dev, torch.float32), torch.ones(B, dtype=torch.bool, device=dev), prompts)
        drawn = [self.task.encode(self.head.answer(out[i], spec, self.task, self.config), **spec)
                 for i, spec in enumerate(specs)]
        return torch.stack([image_to_unit(np.asarray(d, np.uint8)) for d in drawn]).to(dev)

    # ---------------------------------------------------------------- files
    def save_pretrained(self, path: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` (in the backbone's storage dtype) to ``path``."""
        save_backend(self, path, self.config.to_dict(), self.net.cfg.storage_dtype)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: torch.device | str = "cpu", **kwargs: Any
                        ) -> TaskHeadBackend:
        """Load what :meth:`save_pretrained` wrote; weights become float32 on ``device``."""
        return load_backend(cls, path, cls.from_config, device=device)
