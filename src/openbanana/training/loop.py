"""One Accelerate training loop for every backend, every stage of the recipe, every device.

Launch (the same code on one CPU process, one GPU, N GPUs and several nodes; ``-m openbanana.training``
is an alias of ``-m openbanana.cli.train``)::

    # one process (CPU, or the single visible GPU):
    openbanana train --config configs/default-gpu.json --out runs/gpu
    # N GPUs on one machine (DDP):
    accelerate launch --multi_gpu --num_processes 8 -m openbanana.training \\
        --config configs/default-gpu.json --out runs/gpu8
    # several nodes (run on every node; node_rank 0..M-1, same main address):
    accelerate launch --multi_gpu --num_machines 2 --num_processes 16 --machine_rank $NODE_RANK \\
        --main_process_ip $MASTER_ADDR --main_process_port 29500 -m openbanana.training \\
        --config configs/default-gpu.json --out runs/gpu16
    # FSDP2 instead of DDP (parameters, gradients, optimiser state and EMA sharded; FSDP1 is refused):
    accelerate launch --config_file configs/accelerate/fsdp.yaml -m openbanana.training \\
        --config configs/flux2-klein-full.json --out runs/flux2-full-fsdp
    # or the loop's own FSDP2 ("fsdp": true in the config, or -O fsdp=true), any launcher, CPU too:
    python -m torch.distributed.run --nproc_per_node 2 -m openbanana.training --config X.json \\
        --out runs/cpu2-fsdp -O fsdp=true
    # DeepSpeed ZeRO-2 (gradients and AdamW state partitioned; on CPU processes over gloo with
    # configs/accelerate/deepspeed_zero2_cpu.yaml):
    accelerate launch --config_file configs/accelerate/deepspeed_zero2.yaml -m openbanana.training \\
        --config configs/flux2-klein-full.json --out runs/flux2-full-zero2
    # two CPU processes (gloo), as in the tests (``--cpu`` alone would start a single process;
    # without a GPU, --multi_gpu falls back to CPU DDP over gloo; torchrun does the same):
    accelerate launch --multi_gpu --num_processes 2 -m openbanana.training --config X.json --out runs/cpu2
    python -m torch.distributed.run --nproc_per_node 2 -m openbanana.training --config X.json --out runs/cpu2
    # exact resume of an interrupted run:
    openbanana train --config configs/default-gpu.json --out runs/gpu --resume runs/gpu

The global batch is ``batch_size x processes``. Each process reads its own shard of the data stream
(``rank``/``world_size`` are passed to the data source) and its own noise; gradients are averaged
by DDP. Only the main process writes logs, checkpoints and the exported pipeline.

Under FSDP (``fsdp: true``, or Accelerate's FSDP2) the trainable parameters are sharded ``DTensor``s:
the EMA keeps the same shards (no communication per step); checkpoints gather full tensors onto the
main process (model and EMA in safetensors, the optimiser state keyed by parameter name); resume
loads full tensors and each process keeps its shard (so a run checkpointed under DDP or one process
holds the same files, but exact resume still needs the same number of processes for the RNG and
data shards); held-out losses and exports run on the main process on an unsharded copy of the
backend (built once) holding the gathered EMA weights. Backends may define ``fsdp_units()`` (the
modules to shard one by one, e.g. transformer blocks, each entered through its own ``forward``);
without it the loop's own FSDP makes one unit of the whole model.

Under DeepSpeed ZeRO-1/2 (an Accelerate DeepSpeed config) the batch, clipping and precision come from
the training config (bf16 through DeepSpeed's ``torch_autocast``: float32 weights and optimiser state, as
under DDP); weights stay whole on every process, so the EMA and exports are unchanged; checkpoints gather
the float32 master weights and the AdamW state (keyed by parameter name, as under FSDP) from the
partitions, and resume puts each process's partition back.

Steps of :func:`train`, each a method of :class:`Trainer` (the run's shared state; where it stands,
what a checkpoint saves, is a :class:`RunState`; how the weights are spread over processes, and the
gathering of full tensors, is :mod:`openbanana.training.distributed`):
  1. Set-up (:meth:`Trainer.set_up`): Accelerator, seeds, backend, EMA, AdamW; ``init_from`` weights.
  2. Resume (:meth:`Trainer.resume`): model, EMA, optimiser, RNG states, stage, data position.
  3. Stages (:meth:`Trainer.run_stage`): a data stream from the stage's position; per step
     (:meth:`Trainer.step`): condition dropout and one-step flags
     (:mod:`openbanana.training.objective`), loss, backward, clip, AdamW with warm-up + cosine
     learning rate, EMA; logs, held-out losses (:meth:`Trainer.evaluate`), checkpoints, snapshots;
     stop at the stage's steps or minutes, or at the run's ``max_minutes``.
  4. Checkpoint (:meth:`Trainer.checkpoint`): the final one.
  5. Export (:meth:`Trainer.export`): ``OUT/pipeline.json`` + ``OUT/backend/`` (EMA weights) and
     ``OUT/training_summary.json``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from openbanana.backends.base import BACKENDS
from openbanana.backends.text import to_device_nonblocking
from openbanana.batch import Batch
from openbanana.data.training_sources import TrainingSource, training_source
from openbanana.data.workers import data_loader_worker_init
from openbanana.pipeline_config import InferenceDefaults, PipelineConfig, backend_dir
from openbanana.training.checkpoint import (
    checkpoint_dir,
    commit_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    resumable_checkpoint,
    rng_from_files,
    save_checkpoint,
)
from openbanana.training.config import StageConfig, TrainConfig
from openbanana.training.distributed import (
    EMAWeights,
    Sharding,
    TrainingObjective,
    configure_deepspeed,
    fully_shard_objective,
    is_dtensor,
)
from openbanana.training.ema import EMA
from openbanana.training.objective import prepare_batch
from openbanana.training.replay import ReplayPool, concat, refill_start

EVAL_SEED = 1234


# ============================================================================ pieces
def build_backend(cfg: TrainConfig) -> nn.Module:
    cls = BACKENDS.get(cfg.backend)
    if not hasattr(cls, "from_config"):
        raise TypeError(f"backend {cfg.backend!r} has no from_config(dict) classmethod, needed for training")
    return cls.from_config(dict(cfg.backend_config))


def lr_at(step_in_stage: int, stage: StageConfig) -> float:
    """Linear warm-up to ``stage.lr``, then cosine decay to ``lr * min_lr_ratio`` at ``stage.steps``."""
    if step_in_stage < stage.warmup_steps:
        return stage.lr * (step_in_stage + 1) / stage.warmup_steps
    span = max(1, stage.steps - stage.warmup_steps)
    progress = min(1.0, (step_in_stage - stage.warmup_steps) / span)
    return stage.lr * (stage.min_lr_ratio + (1 - stage.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def sample_stream(source: TrainingSource, data_cfg: Any, *, seed: int, rank: int, world_size: int, start: int,
                  num_workers: int) -> Iterator[dict]:
    """Samples of this rank from position ``start`` (exactly; quickly when the source is
    :attr:`~openbanana.data.training_sources.TrainingSource.resumable`)."""
    kwargs = {"seed": seed, "rank": rank, "world_size": world_size}
    skip = 0
    if source.resumable:
        kwargs["start"] = start
    else:
        skip = start  # exact but slow: regenerate and drop the samples already seen
    ds = source.build_dataset(data_cfg, **kwargs)
    # workers die with this process, even by kill -9 (else each waits forever on its full result pipe)
    init = functools.partial(data_loader_worker_init, parent_pid=os.getpid()) if num_workers else None
    loader = DataLoader(ds, batch_size=None, num_workers=num_workers, collate_fn=lambda s: s,
                        prefetch_factor=8 if num_workers else None, persistent_workers=False,
                        pin_memory=False, worker_init_fn=init)
    it = iter(loader)
    for _ in range(skip):
        next(it)
    return it


def export_pipeline(backend: nn.Module, out_dir: str | Path, cfg: TrainConfig, summary: dict[str, Any],
                    ema: EMA | None = None) -> Path:
    """Write ``OUT/pipeline.json`` and ``OUT/backend/`` (EMA weights when ``ema`` is given)."""
    out = Path(out_dir)
    if ema is not None:
        with ema.swapped_in(backend):
            backend.save_pretrained(backend_dir(out))
    else:
        backend.save_pretrained(backend_dir(out))
    pc = PipelineConfig(backend=cfg.backend, resolution=cfg.resolution,
                        inference=InferenceDefaults(**cfg.inference), training=summary)
    pc.save(out)
    return out


@torch.no_grad()
def heldout_losses(backend: nn.Module, batches: list[Batch], one_step_tasks: tuple[str, ...],
                   device: torch.device) -> dict[str, float]:
    """Mean loss per task on fixed batches with fixed noise (dense tasks scored in one-step mode),
    without auxiliary losses."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    was_training = backend.training
    backend.eval()
    gen = torch.Generator(device=device).manual_seed(EVAL_SEED)
    for batch in batches:
        tasks = batch.tasks or ["all"] * len(batch.prompts)
        for task in sorted(set(tasks)):
            idx = [i for i, t in enumerate(tasks) if t == task]
            sub = Batch(target=batch.target[idx], cond=batch.cond[idx], has_cond=batch.has_cond[idx],
                        prompts=[batch.prompts[i] for i in idx], tasks=[task] * len(idx),
                        one_step=torch.full((len(idx),), task in one_step_tasks, dtype=torch.bool))
            loss = backend.training_loss(sub.to(device), gen, auxiliary=False).item()
            sums[task] = sums.get(task, 0.0) + loss * len(idx)
            counts[task] = counts.get(task, 0) + len(idx)
    backend.train(was_training)
    out = {t: sums[t] / counts[t] for t in sorted(sums)}
    gen_tasks = [t for t in out if t not in one_step_tasks]
    if gen_tasks:
        out["generation"] = sum(sums[t] for t in gen_tasks) / sum(counts[t] for t in gen_tasks)
    return out


def _eval_batches(source: TrainingSource, cfg: TrainConfig, stage: StageConfig, n: int) -> list[Batch]:
    if n <= 0:
        return []
    data_cfg = source.make_config(stage.data, cfg.resolution, split="val")
    it = sample_stream(source, data_cfg, seed=EVAL_SEED, rank=0, world_size=1, start=0,
                       num_workers=min(cfg.num_workers, n * cfg.batch_size))
    batches = [source.collate([next(it) for _ in range(cfg.batch_size)]) for _ in range(n)]
    del it  # stop the workers
    return batches


# ============================================================================ the run's state
@dataclass
class RunState:
    """Where a run stands: what a checkpoint's ``state.json`` keeps besides weights and RNG states.

    Attributes:
        step: optimiser steps taken in the whole run.
        stage: index of the current stage in ``cfg.stages``.
        stage_step: steps taken in the current stage.
        position: samples this process has read from the current stage's stream.
        elapsed_before: training seconds before this process started (a resumed run's past).
        unique: fresh samples drawn by all processes together (replayed ones not counted).
        history: events (``init``, ``eval``, ``stage_end``) with their held-out losses.
        stopped_by_time: the run's ``max_minutes`` ended it (not saved: a resume starts without it).
    """

    step: int = 0
    stage: int = 0
    stage_step: int = 0
    position: int = 0
    elapsed_before: float = 0.0
    unique: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_by_time: bool = False

    @classmethod
    def from_checkpoint(cls, st: dict[str, Any]) -> RunState:
        """The state a checkpoint's ``state.json`` (``st``) saved."""
        return cls(step=st["step"], stage=st["stage"], stage_step=st["stage_step"], position=st["data_position"],
                   elapsed_before=st["elapsed_s"], unique=st["unique_samples"], history=st["history"])


@dataclass
class StageRun:
    """One stage under way: its data stream, replay pool, progress bar and the meters its logs read."""

    stage: StageConfig
    started: float  # time.monotonic() when this process started the stage
    fresh_n: int  # fresh samples per step (the rest of the batch is replayed)
    stream: Iterator[dict] | None
    pool: ReplayPool | None
    bar: Any
    loss_avg: float | None = None  # smoothed training loss
    loss_sum: Any = 0.0  # device tensor once summed: read once per log interval
    loss_n: int = 0
    data_wait: float = 0.0  # seconds spent waiting for samples
    imgs_log: int = 0  # images since the last tensorboard write
    t_log: float = field(default_factory=time.monotonic)
    t_print: float = field(default_factory=time.monotonic)
    elapsed_before: float = 0.0  # a stage's wall-clock budget restarts on resume (the run's does not)

    def seconds(self) -> float:
        return self.elapsed_before + time.monotonic() - self.started


# ============================================================================ the trainer
@dataclass
class Trainer:
    """One training run: the state its named steps share (see the module docstring for the steps).

    Built by :meth:`set_up`; :func:`train` calls the steps in order. Every process runs every step;
    only the main process writes logs, checkpoints' shared files and exports.
    """

    cfg: TrainConfig
    out: Path
    acc: Any  # accelerate.Accelerator
    mixed_precision: str  # "no", "bf16" or "fp16" ("auto" resolved)
    backend: nn.Module
    objective: TrainingObjective  # what DDP/FSDP wrap
    model: nn.Module  # the objective as prepared (DDP, compiled) or itself
    opt: Any  # AdamW (as prepared by Accelerate)
    params: list[nn.Parameter]  # the trainable parameters as the optimiser sees them (DTensors under FSDP)
    fused: dict[str, bool]  # {"fused": True} for the fused CUDA AdamW kernel, else {}
    sharding: Sharding
    ema: EMA
    ema_weights: EMAWeights
    generators: dict[str, torch.Generator]  # noise, objective, replay: saved in every checkpoint
    t_start: float  # time.monotonic() at set-up
    show_progress: bool
    run: RunState = field(default_factory=RunState)
    source: TrainingSource | None = None
    writer: Any = None  # tensorboard SummaryWriter (main process)
    eval_sets: dict[str, list[Batch]] = field(default_factory=dict)
    n_params: int = 0

    @property
    def rank(self) -> int:
        return self.acc.process_index

    @property
    def world(self) -> int:
        return self.acc.num_processes

    @property
    def main(self) -> bool:
        return self.acc.is_main_process

    def elapsed(self) -> float:
        """Training seconds of the whole run (resumed runs included)."""
        return self.run.elapsed_before + time.monotonic() - self.t_start

    # ------------------------------------------------------------------------ 1. set-up
    @classmethod
    def set_up(cls, cfg: TrainConfig, out_dir: str | Path, *, init_weights: bool, progress: bool) -> Trainer:
        """Accelerator, seeds, backend (``init_from`` weights where ``init_weights``), FSDP or ZeRO,
        AdamW, EMA and the run's generators; the main process writes ``train_config.json``."""
        from accelerate import Accelerator
        from accelerate.utils import DistributedType, InitProcessGroupKwargs, set_seed

        t_start = time.monotonic()
        mp = cfg.mixed_precision
        if mp == "auto":
            mp = "bf16" if torch.cuda.is_available() else "no"
        # Accelerator(cpu=True) would drop an Accelerate DeepSpeed launch: without CUDA, DeepSpeed runs on
        # its CPU accelerator, and the backend must be named (gloo) or Accelerate counts one process
        cpu = not torch.cuda.is_available()
        deepspeed = os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
        handlers = [InitProcessGroupKwargs(backend="gloo")] if cpu and deepspeed else None
        acc = Accelerator(mixed_precision=mp, cpu=cpu and not deepspeed, kwargs_handlers=handlers)
        zero = acc.distributed_type == DistributedType.DEEPSPEED  # ZeRO-1/2: optimiser state partitioned
        if zero:
            configure_deepspeed(acc, cfg, mp)
        if acc.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        out = Path(out_dir)
        if acc.is_main_process:
            out.mkdir(parents=True, exist_ok=True)
            cfg.save(out)
        set_seed(cfg.seed)  # identical initial weights on every process
        backend = build_backend(cfg)
        if cfg.init_from and init_weights:
            _load_init_weights(backend, cfg.init_from, cfg.init_exclude)
        backend.to(acc.device)
        objective = TrainingObjective(backend)
        if cfg.fsdp:  # the loop's own FSDP2 (any device); accelerate's FSDP shards inside prepare instead
            if acc.distributed_type == DistributedType.FSDP:
                raise ValueError("fsdp: true in the training config and an Accelerate FSDP config at once: "
                                 "choose one")
            fully_shard_objective(objective, backend, mp)
        model = torch.compile(objective) if cfg.compile else objective
        params = backend.trainable_parameters()
        # fused AdamW on CUDA: one kernel for all parameters instead of a few per parameter tensor
        fused = {"fused": True} if acc.device.type == "cuda" and all(p.is_cuda for p in params) else {}
        opt = torch.optim.AdamW(params, lr=cfg.stages[0].lr, betas=cfg.betas, weight_decay=cfg.weight_decay,
                                **fused)
        if cfg.fsdp:
            opt = acc.prepare(opt)
        else:
            if acc.distributed_type == DistributedType.FSDP and not acc.is_fsdp2:
                raise ValueError("FSDP1 is not supported: set fsdp_version: 2 in the Accelerate config "
                                 "(configs/accelerate/fsdp.yaml), or fsdp: true in the training config")
            model, opt = acc.prepare(model, opt)
        # FSDP replaces the parameters by sharded DTensors: track those (clipping, EMA, checkpoints)
        params = backend.trainable_parameters()
        sharding = Sharding(sharded=any(is_dtensor(p) for p in backend.parameters()), zero=zero)
        ema = EMA(backend, cfg.ema_decay)
        rank = acc.process_index
        generators = {"noise": torch.Generator(device=acc.device).manual_seed(cfg.seed * 1000 + 17 + rank),
                      "objective": torch.Generator().manual_seed(cfg.seed * 1000 + 29 + rank),
                      "replay": torch.Generator().manual_seed(cfg.seed * 1000 + 43 + rank)}
        ema_weights = EMAWeights(sharding, backend, ema, acc.is_main_process,
                                 build=lambda: build_backend(cfg).to(acc.device))
        return cls(cfg=cfg, out=out, acc=acc, mixed_precision=mp, backend=backend, objective=objective,
                   model=model, opt=opt, params=params, fused=fused, sharding=sharding, ema=ema,
                   ema_weights=ema_weights, generators=generators, t_start=t_start, show_progress=progress)

    # ------------------------------------------------------------------------ 2. resume
    def resume(self, path: str | Path) -> None:
        """Continue exactly from a run directory or checkpoint: weights, EMA, optimiser, RNG states
        and :class:`RunState` (the same backend and number of processes, else ValueError)."""
        cfg, acc = self.cfg, self.acc
        # the newest checkpoint that verifies (sizes, headers, checksums); the main process says on stderr
        # which newer ones it skipped and why. Every process reads the same files, so all pick the same one.
        ck_dir = resumable_checkpoint(path, warn=None if not self.main else
                                      lambda line: print(line, file=sys.stderr, flush=True))
        # ZeRO: the full tensors stay in host memory; each process copies in the weights and its partitions
        ck = load_checkpoint(ck_dir, rank=self.rank, device="cpu" if self.sharding.zero else acc.device)
        st = ck["state"]
        if st["backend"] != cfg.backend or st["backend_config"] != cfg.backend_config:
            raise ValueError(f"checkpoint is a {st['backend']} {st['backend_config']} run, config asks for "
                             f"{cfg.backend} {cfg.backend_config}")
        if st["world_size"] != self.world:
            raise ValueError(f"checkpoint was written by {st['world_size']} processes, now {self.world}: "
                             "exact resume needs the same number")
        self.sharding.load_weights(self.backend, ck["model"])
        self.ema.load_state_dict(ck["ema"], st["ema_updates"])
        self.sharding.load_optimizer(self.backend, self.objective, self.opt, ck["model"], ck["optimizer"])
        for g in self.opt.param_groups:  # the kernel choice follows this run's device, not the checkpoint's
            g["fused"] = self.fused.get("fused")
        rng_from_files(ck["rng_tensors"], ck["rng_meta"], self.generators)
        self.run = RunState.from_checkpoint(st)

    # ------------------------------------------------------------------------ logs and held-out sets
    def open_logs(self) -> None:
        """Tensorboard writer (main process), the data source, the run's first line on stdout."""
        cfg = self.cfg
        if self.main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tb"))
        self.source = training_source(cfg.data_source)
        self.n_params = sum(p.numel() for p in self.backend.parameters())
        self.acc.print(f"openbanana train: {cfg.backend} {cfg.backend_config} ({self.n_params / 1e6:.2f} M "
                       f"parameters), {self.world} process(es) on {self.acc.device}, mixed precision "
                       f"{self.mixed_precision}, global batch {cfg.batch_size * self.world}")

    def prepare_evaluation(self) -> None:
        """The held-out batches (main process): the first stage's mixture (generation) and the last
        one's (with vision), val split."""
        cfg = self.cfg
        if self.main:
            self.eval_sets = {"gen": _eval_batches(self.source, cfg, cfg.stages[0], cfg.eval_batches)}
            if len(cfg.stages) > 1:
                self.eval_sets["mix"] = _eval_batches(self.source, cfg, cfg.stages[-1], cfg.eval_batches)

    # ------------------------------------------------------------------------ 3. stages
    def run_stage(self) -> None:
        """The current stage from where it stands to its steps, its minutes or the run's minutes;
        then its ``stage_end`` event (with held-out losses) in the history."""
        sr = self._start_stage()
        self.model.train()
        while self.run.stage_step < sr.stage.steps:
            loss, lr, gnorm = self.step(sr)
            self._log_step(sr, loss, lr, gnorm)
            self._periodic()
            if self._out_of_time(sr):
                break
        self._end_stage(sr)

    def _start_stage(self) -> StageRun:
        """The stage's data stream from this process's position (the replay pool rebuilt exactly)."""
        cfg, run, source = self.cfg, self.run, self.source
        stage = cfg.stages[run.stage]
        started = time.monotonic()
        data_cfg = source.make_config(stage.data, cfg.resolution)
        fresh_n = min(cfg.fresh_per_step, cfg.batch_size) if cfg.fresh_per_step else cfg.batch_size
        pool = ReplayPool(cfg.replay_capacity, self.acc.device) if fresh_n < cfg.batch_size else None
        start = refill_start(run.position, cfg.replay_capacity) if pool is not None else run.position
        stream = sample_stream(source, data_cfg, seed=cfg.seed + 1000 * run.stage, rank=self.rank,
                               world_size=self.world, start=start, num_workers=cfg.num_workers)
        if pool is not None and run.position > start:  # resume: rebuild the pool exactly
            pool.count = start
            for i in range(start, run.position, 256):
                pool.add(source.collate([next(stream) for _ in range(min(256, run.position - i))]))
        bar = _progress(stage, run.stage_step, enabled=self.show_progress and self.main)
        return StageRun(stage=stage, started=started, fresh_n=fresh_n, stream=stream, pool=pool, bar=bar)

    def step(self, sr: StageRun) -> tuple[torch.Tensor, float, torch.Tensor | None]:
        """One optimisation step; returns the loss, the learning rate and the gradient norm (or None)."""
        cfg, run, acc = self.cfg, self.run, self.acc
        t_wait = time.monotonic()
        raw = _batch_to(self.source.collate([next(sr.stream) for _ in range(sr.fresh_n)]), acc.device)
        sr.data_wait += time.monotonic() - t_wait
        run.position += sr.fresh_n
        run.unique += sr.fresh_n * self.world
        if sr.pool is not None:
            sr.pool.add(raw)
            raw = concat(raw, sr.pool.draw(cfg.batch_size - sr.fresh_n, self.generators["replay"]))
        batch = prepare_batch(raw, cfg.objective, self.generators["objective"],
                              sr.stage.one_step_prob).to(acc.device)
        lr = lr_at(run.stage_step, sr.stage)
        for g in self.opt.param_groups:
            g["lr"] = lr
        loss = self.model(batch, self.generators["noise"])
        acc.backward(loss)
        gnorm = acc.clip_grad_norm_(self.params, cfg.grad_clip) if cfg.grad_clip > 0 else None
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.ema.update(self.backend)
        run.step, run.stage_step = run.step + 1, run.stage_step + 1
        return loss, lr, gnorm

    def _log_step(self, sr: StageRun, loss: torch.Tensor, lr: float, gnorm: torch.Tensor | None) -> None:
        """Progress bar or a line every 30 s, and tensorboard scalars, at the log interval."""
        cfg, run, world = self.cfg, self.run, self.world
        sr.imgs_log += cfg.batch_size * world
        sr.loss_sum, sr.loss_n = sr.loss_sum + loss.detach().float(), sr.loss_n + 1
        if sr.bar is not None:
            sr.bar.update(1)
        if run.step % cfg.log_every == 0 or run.stage_step == 1 or run.stage_step == sr.stage.steps:
            lv = (sr.loss_sum / sr.loss_n).item()  # one device sync per log interval
            sr.loss_sum, sr.loss_n = 0.0, 0
            sr.loss_avg = lv if sr.loss_avg is None else 0.8 * sr.loss_avg + 0.2 * lv
            if sr.bar is not None:
                sr.bar.set_postfix(loss=f"{sr.loss_avg:.4f}", lr=f"{lr:.2e}")
            elif self.main and time.monotonic() - sr.t_print >= 30:
                sr.t_print = time.monotonic()
                self.acc.print(f"[{sr.stage.name}] step {run.step} ({run.stage_step} in stage) loss "
                               f"{sr.loss_avg:.4f} lr {lr:.2e} "
                               f"{run.stage_step * cfg.batch_size * world / (sr.t_print - sr.started):.0f} img/s, "
                               f"data wait {sr.data_wait:.0f}s, {self.elapsed() / 60:.1f} min")
        if self.main and (run.step % cfg.log_every == 0 or run.stage_step == 1):
            now, writer, step = time.monotonic(), self.writer, run.step
            writer.add_scalar("train/loss", lv, step)
            writer.add_scalar("train/loss_smooth", sr.loss_avg, step)
            writer.add_scalar("train/lr", lr, step)
            writer.add_scalar("train/images_per_s", sr.imgs_log / max(1e-9, now - sr.t_log), step)
            writer.add_scalar("train/data_wait_s_total", sr.data_wait, step)
            if gnorm is not None:
                writer.add_scalar("train/grad_norm", float(gnorm.to_local() if is_dtensor(gnorm) else gnorm), step)
            sr.t_log, sr.imgs_log = now, 0

    def _periodic(self) -> None:
        """Held-out losses, a snapshot export and a checkpoint, each at its interval."""
        cfg, run = self.cfg, self.run
        if cfg.eval_every and run.step % cfg.eval_every == 0:
            run.history.append({"event": "eval", "step": run.step, "heldout": self.evaluate("eval")})
        if cfg.snapshot_every and run.step % cfg.snapshot_every == 0:
            with self.ema_weights() as net:
                if self.main:
                    export_pipeline(net, self.out / "snapshots" / f"step_{run.step:07d}", cfg,
                                    {"step": run.step, "images_seen": run.step * cfg.batch_size * self.world,
                                     "unique_samples": run.unique, "minutes": self.elapsed() / 60})
        if cfg.ckpt_every and run.step % cfg.ckpt_every == 0:
            self.checkpoint()

    def _out_of_time(self, sr: StageRun) -> bool:
        """The stage's or the run's wall-clock limit, agreed by all processes (sets ``stopped_by_time``
        when the run's)."""
        over = sr.stage.max_minutes is not None and sr.seconds() >= 60 * sr.stage.max_minutes
        run_over = self.cfg.max_minutes is not None and self.elapsed() >= 60 * self.cfg.max_minutes
        if self.world > 1:  # all processes must agree: one small all-reduce (a device sync) per step
            flags = self.acc.reduce(torch.tensor([float(over), float(run_over)], device=self.acc.device),
                                    reduction="sum")
            over, run_over = bool(flags[0] > 0), bool(flags[1] > 0)
        # one process: decided on the host, so the CPU keeps queueing work ahead of the GPU
        if run_over:
            self.run.stopped_by_time = True
        return over or run_over

    def _end_stage(self, sr: StageRun) -> None:
        cfg, run = self.cfg, self.run
        if sr.bar is not None:
            sr.bar.close()
        sr.stream = None  # stop this stage's DataLoader workers before the next stage starts its own
        run.history.append({"event": "stage_end", "stage": run.stage, "name": sr.stage.name,
                            "steps": run.stage_step, "global_step": run.step, "train_loss_smooth": sr.loss_avg,
                            "seconds": sr.seconds(),
                            "images": run.stage_step * cfg.batch_size * self.world,
                            "unique_samples_total": run.unique,
                            "stopped_by": "time" if run.stage_step < sr.stage.steps else "steps",
                            "data_wait_s": round(sr.data_wait, 2),
                            "heldout": self.evaluate(f"end of {sr.stage.name}")})

    def next_stage(self) -> bool:
        """Move to the next stage from its start; False when the run is done (last stage, or time)."""
        run = self.run
        if run.stage < len(self.cfg.stages) - 1 and not run.stopped_by_time:
            run.stage, run.stage_step, run.position = run.stage + 1, 0, 0
            return True
        return False

    # ------------------------------------------------------------------------ evaluate
    def evaluate(self, tag: str) -> dict[str, dict[str, float]]:
        """Held-out losses of the EMA weights on each held-out set (main process; collective under
        FSDP), written to tensorboard and printed; ``{}`` without held-out batches."""
        res: dict[str, dict[str, float]] = {}
        if self.cfg.eval_batches <= 0:  # the same on every process (eval_sets live on the main one only)
            return res
        with self.ema_weights() as net:
            if self.main:
                for name, batches in self.eval_sets.items():
                    res[name] = heldout_losses(net, batches, self.cfg.objective.one_step_tasks, self.acc.device)
                    for k, v in res[name].items():
                        self.writer.add_scalar(f"heldout_{name}/{k}", v, self.run.step)
            self.acc.print(f"[{tag}] step {self.run.step} held-out loss: " + json.dumps(
                {n: {k: round(v, 4) for k, v in r.items()} for n, r in res.items()}))
        return res

    # ------------------------------------------------------------------------ 4. checkpoint
    def checkpoint(self) -> None:
        """A verified checkpoint at the current step: every process writes its RNG states; the full
        weights, EMA and optimiser state are gathered (collective when spread) and written by the main
        process, which commits (``state.json`` last) and prunes old checkpoints."""
        acc, cfg, run, main = self.acc, self.cfg, self.run, self.main
        acc.wait_for_everyone()
        state = {"step": run.step, "stage": run.stage, "stage_step": run.stage_step, "data_position": run.position,
                 "ema_updates": self.ema.num_updates, "elapsed_s": self.elapsed(), "world_size": self.world,
                 "unique_samples": run.unique,
                 "backend": cfg.backend, "backend_config": cfg.backend_config, "history": run.history}
        # under FSDP and ZeRO every process takes part in gathering full tensors; the main process writes them
        gather = self.sharding.gathers(main)
        model_state, opt_state = (self.sharding.gather(self.backend, self.objective, self.opt, main) if gather
                                  else (None, None))
        ck_dir = checkpoint_dir(self.out, run.step)
        save_checkpoint(ck_dir, model_state=model_state, ema_state=self.ema.state_dict() if gather else None,
                        optimizer_state=opt_state, generators=self.generators, state=state, rank=self.rank,
                        is_main=main, commit=False)
        acc.wait_for_everyone()
        if main:  # every process's files are on disk: state.json (the commit marker) goes last
            commit_checkpoint(ck_dir, state, world_size=self.world)
            prune_checkpoints(self.out, cfg.keep_checkpoints)

    # ------------------------------------------------------------------------ 5. export
    def export(self) -> Path:
        """The run's summary, the pipeline with the EMA weights and ``training_summary.json`` (main
        process); then the processes part. Returns the run directory."""
        acc, cfg, run, world, main = self.acc, self.cfg, self.run, self.world, self.main
        # sharded weights differ between processes by design: nothing to compare
        in_sync = self.sharding.ranks_in_sync(acc, self.backend)
        summary = {
            "backend": cfg.backend, "backend_config": cfg.backend_config, "parameters": self.n_params,
            "steps": run.step, "images_seen": run.step * cfg.batch_size * world, "unique_samples": run.unique,
            "minutes": round(self.elapsed() / 60, 3),
            "world_size": world, "device": _device_name(acc.device), "mixed_precision": self.mixed_precision,
            "ranks_in_sync": in_sync, "stopped_by_time": run.stopped_by_time, "resolution": cfg.resolution,
            "stages": [{"name": s.name, "data": s.data, "planned_steps": s.steps, "lr": s.lr} for s in cfg.stages],
            "history": run.history,
        }
        with self.ema_weights() as net:
            if main:
                export_pipeline(net, self.out, cfg, summary)
        if main:
            (self.out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            self.writer.close()
            acc.print(f"exported pipeline to {self.out} after {run.step} steps ({summary['minutes']:.2f} min)")
        acc.wait_for_everyone()
        acc.end_training()
        return self.out


# ============================================================================ the loop
def train(cfg: TrainConfig, out_dir: str | Path, *, resume: str | Path | None = None,
          progress: bool = True) -> Path:
    """Train ``cfg`` and export the pipeline to ``out_dir``; returns ``out_dir``.

    Args:
        cfg: the run (stages, backend, data, optimisation).
        out_dir: run directory: ``train_config.json``, ``checkpoints/``, ``tb/``, ``snapshots/``,
            and the exported pipeline (``pipeline.json``, ``backend/``).
        resume: a run directory or checkpoint to continue exactly from (same number of processes).
        progress: show a progress bar on the main process.
    """
    trainer = Trainer.set_up(cfg, out_dir, init_weights=resume is None, progress=progress)  # 1. set-up
    if resume is not None:
        trainer.resume(resume)  # 2. resume
    trainer.open_logs()
    trainer.prepare_evaluation()
    run = trainer.run
    if run.stage == 0 and run.stage_step == 0 and run.step == 0:
        run.history.append({"event": "init", "heldout": trainer.evaluate("init")})
    while run.stage < len(cfg.stages) and not run.stopped_by_time:  # 3. stages
        trainer.run_stage()
        if not trainer.next_stage():
            break
    trainer.checkpoint()  # 4. the final checkpoint
    return trainer.export()  # 5. export


# ============================================================================ helpers
def _batch_to(batch: Batch, device: torch.device) -> Batch:
    """A collated CPU batch on ``device``; on CUDA through pinned memory without waiting for the GPU
    (a plain ``.to`` from pageable memory would drain the device's queue at every step)."""
    if torch.device(device).type != "cuda":
        return batch.to(device)

    def move(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else to_device_nonblocking(t, device)

    return Batch(target=move(batch.target), cond=move(batch.cond), has_cond=move(batch.has_cond),
                 prompts=batch.prompts, tasks=batch.tasks, one_step=move(batch.one_step))


def _progress(stage: StageConfig, done: int, enabled: bool) -> Any:
    if not enabled:
        return None
    return tqdm(total=stage.steps, initial=done, desc=stage.name, mininterval=2.0, dynamic_ncols=True)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return str(device)


def _load_init_weights(backend: nn.Module, path: str | Path, exclude: list[str] | tuple[str, ...] = ()) -> None:
    """Weights from a pipeline directory (``backend/model.safetensors``) or a checkpoint (its EMA);
    weights whose names start with a prefix in ``exclude`` keep their fresh initialisation."""
    p = Path(path)
    if (p / "pipeline.json").is_file():
        f = backend_dir(p) / "model.safetensors"
    elif (p / "ema.safetensors").is_file():
        f = p / "ema.safetensors"
    else:
        f = latest_checkpoint(p) / "ema.safetensors"
    skip = tuple(exclude)
    own = backend.state_dict()
    state = {k: v.to(own[k].dtype) if k in own else v
             for k, v in load_file(str(f)).items() if not (skip and k.startswith(skip))}
    shapes = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
              if k in own and v.shape != own[k].shape]
    if shapes:
        raise ValueError(f"init_from {f}: weights of another shape: {shapes[:5]}")
    missing, unexpected = backend.load_state_dict(state, strict=False)
    bad_missing = [k for k in missing if k in dict(backend.named_parameters()) and not (skip and k.startswith(skip))]
    if bad_missing or unexpected:
        raise ValueError(f"init_from {f}: missing {bad_missing[:5]}, unexpected {unexpected[:5]}")
