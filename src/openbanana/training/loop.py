"""One Accelerate training loop for every backend, every stage of the recipe, every device.

Launch (the same code on one CPU process, one GPU, N GPUs and several nodes)::

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

Steps of :func:`train`:
  1. Accelerator, seeds, backend, EMA, AdamW.
  2. Resume (model, EMA, optimiser, RNG states, stage, data position) or ``init_from`` weights.
  3. For each remaining stage: a data stream from the stage's position; per step: condition dropout
     and one-step flags (:mod:`openbanana.training.objective`), loss, backward, clip, AdamW with
     warm-up + cosine learning rate, EMA; logs, held-out losses, checkpoints, snapshots; stop at the
     stage's steps or minutes, or at the run's ``max_minutes``.
  4. Final checkpoint and export of ``OUT/pipeline.json`` + ``OUT/backend/`` (EMA weights).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from openbanana.backends.base import BACKENDS, Batch
from openbanana.backends.text import to_device_nonblocking
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
from openbanana.training.ema import EMA
from openbanana.training.objective import prepare_batch
from openbanana.training.replay import ReplayPool, concat, refill_start

EVAL_SEED = 1234


# ============================================================================ pieces
class _Objective(nn.Module):
    """Routes ``forward`` to ``backend.training_loss`` so DDP/FSDP see a forward call."""

    def __init__(self, backend: nn.Module) -> None:
        super().__init__()
        self.backend = backend

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.backend.training_loss(batch, generator)


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
    from torch.utils.data import DataLoader

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
    """Mean loss per task on fixed batches with fixed noise (dense tasks scored in one-step mode)."""
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
            loss = backend.training_loss(sub.to(device), gen).item()
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
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, InitProcessGroupKwargs, set_seed

    # 1. accelerator, seeds, backend, EMA, optimiser ---------------------------------------------
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
        _configure_deepspeed(acc, cfg, mp)
    if acc.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    rank, world, main = acc.process_index, acc.num_processes, acc.is_main_process
    out = Path(out_dir)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out)
    set_seed(cfg.seed)  # identical initial weights on every process
    backend = build_backend(cfg)
    if cfg.init_from and resume is None:
        _load_init_weights(backend, cfg.init_from, cfg.init_exclude)
    backend.to(acc.device)
    objective = _Objective(backend)
    if cfg.fsdp:  # the loop's own FSDP2 (any device); accelerate's FSDP shards inside prepare instead
        if acc.distributed_type == DistributedType.FSDP:
            raise ValueError("fsdp: true in the training config and an Accelerate FSDP config at once: "
                             "choose one")
        _fully_shard(objective, backend, mp)
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
    sharded = any(_is_dtensor(p) for p in backend.parameters())
    ema = EMA(backend, cfg.ema_decay)
    gen_noise = torch.Generator(device=acc.device).manual_seed(cfg.seed * 1000 + 17 + rank)
    gen_obj = torch.Generator().manual_seed(cfg.seed * 1000 + 29 + rank)
    gen_replay = torch.Generator().manual_seed(cfg.seed * 1000 + 43 + rank)
    generators = {"noise": gen_noise, "objective": gen_obj, "replay": gen_replay}

    # 2. resume --------------------------------------------------------------------------------------
    step, stage_idx, stage_step, position, elapsed_before, unique = 0, 0, 0, 0, 0.0, 0
    history: list[dict[str, Any]] = []
    if resume is not None:
        # the newest checkpoint that verifies (sizes, headers, checksums); the main process says on stderr
        # which newer ones it skipped and why. Every process reads the same files, so all pick the same one.
        ck_dir = resumable_checkpoint(resume, warn=None if not main else
                                      lambda line: print(line, file=sys.stderr, flush=True))
        # ZeRO: the full tensors stay in host memory; each process copies in the weights and its partitions
        ck = load_checkpoint(ck_dir, rank=rank, device="cpu" if zero else acc.device)
        st = ck["state"]
        if st["backend"] != cfg.backend or st["backend_config"] != cfg.backend_config:
            raise ValueError(f"checkpoint is a {st['backend']} {st['backend_config']} run, config asks for "
                             f"{cfg.backend} {cfg.backend_config}")
        if st["world_size"] != world:
            raise ValueError(f"checkpoint was written by {st['world_size']} processes, now {world}: "
                             "exact resume needs the same number")
        _load_trainable_state(backend, ck["model"], sharded)
        ema.load_state_dict(ck["ema"], st["ema_updates"])
        if zero:
            _load_zero_state(backend, opt, ck["model"], ck["optimizer"])
        elif sharded:  # a full optimiser state dict keyed by parameter name; each process keeps its shard
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(objective, opt.optimizer, ck["optimizer"],
                                     options=StateDictOptions(full_state_dict=True))
        else:
            opt.load_state_dict(ck["optimizer"])
        for g in opt.param_groups:  # the kernel choice follows this run's device, not the checkpoint's
            g["fused"] = fused.get("fused")
        rng_from_files(ck["rng_tensors"], ck["rng_meta"], generators)
        step, stage_idx, stage_step = st["step"], st["stage"], st["stage_step"]
        position, elapsed_before, history = st["data_position"], st["elapsed_s"], st["history"]
        unique = st["unique_samples"]

    writer = None
    if main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    source = training_source(cfg.data_source)
    n_params = sum(p.numel() for p in backend.parameters())
    acc.print(f"openbanana train: {cfg.backend} {cfg.backend_config} ({n_params / 1e6:.2f} M parameters), "
              f"{world} process(es) on {acc.device}, mixed precision {mp}, global batch {cfg.batch_size * world}")

    def elapsed() -> float:
        return elapsed_before + time.monotonic() - t_start

    def checkpoint(tag_step: int) -> None:
        acc.wait_for_everyone()
        state = {"step": step, "stage": stage_idx, "stage_step": stage_step, "data_position": position,
                 "ema_updates": ema.num_updates, "elapsed_s": elapsed(), "world_size": world,
                 "unique_samples": unique,
                 "backend": cfg.backend, "backend_config": cfg.backend_config, "history": history}
        # under FSDP and ZeRO every process takes part in gathering full tensors; the main process writes them
        gather = main or sharded or zero
        if zero:
            model_state, opt_state = _zero_model_state(backend, main), _zero_optimizer_state(backend, opt, main)
        elif gather:
            model_state, opt_state = _trainable_state(backend, sharded), _optimizer_state(objective, opt, sharded)
        ck_dir = checkpoint_dir(out, tag_step)
        save_checkpoint(ck_dir,
                        model_state=model_state if gather else None,
                        ema_state=ema.state_dict() if gather else None,
                        optimizer_state=opt_state if gather else None,
                        generators=generators, state=state, rank=rank, is_main=main, commit=False)
        acc.wait_for_everyone()
        if main:  # every process's files are on disk: state.json (the commit marker) goes last
            commit_checkpoint(ck_dir, state, world_size=world)
            prune_checkpoints(out, cfg.keep_checkpoints)

    # 3. stages --------------------------------------------------------------------------------------
    stopped_by_time = False
    eval_sets: dict[str, list[Batch]] = {}
    if main:
        # the first stage's mixture (generation) and the last one's (with vision), val split
        eval_sets = {"gen": _eval_batches(source, cfg, cfg.stages[0], cfg.eval_batches)}
        if len(cfg.stages) > 1:
            eval_sets["mix"] = _eval_batches(source, cfg, cfg.stages[-1], cfg.eval_batches)

    full_copy: list[nn.Module] = []

    def unsharded_ema() -> nn.Module | None:
        """FSDP: gather the full weights with the EMA on the main process into an unsharded copy of the
        backend (built once, on the main process's device); collective, returns None elsewhere."""
        state = _full_model_state(backend)
        ema_state = ema.state_dict()
        if not main:
            return None
        if not full_copy:
            with torch.random.fork_rng(devices=[]):  # building draws init weights: keep the run's RNG
                full_copy.append(build_backend(cfg).to(acc.device))
        full_copy[0].load_state_dict({**state, **ema_state})
        return full_copy[0]

    def ema_weights() -> Any:
        """Context giving the main process a backend holding the EMA weights (collective under FSDP)."""
        if sharded:
            return contextlib.nullcontext(unsharded_ema())
        return ema.swapped_in(backend) if main else contextlib.nullcontext(None)

    def evaluate(tag: str) -> dict[str, dict[str, float]]:
        res = {}
        if cfg.eval_batches <= 0:  # the same on every process (eval_sets live on the main one only)
            return res
        with ema_weights() as net:
            if main:
                for name, batches in eval_sets.items():
                    res[name] = heldout_losses(net, batches, cfg.objective.one_step_tasks, acc.device)
                    for k, v in res[name].items():
                        writer.add_scalar(f"heldout_{name}/{k}", v, step)
            acc.print(f"[{tag}] step {step} held-out loss: " + json.dumps(
                {n: {k: round(v, 4) for k, v in r.items()} for n, r in res.items()}))
        return res

    if stage_idx == 0 and stage_step == 0 and step == 0:
        history.append({"event": "init", "heldout": evaluate("init")})

    while stage_idx < len(cfg.stages) and not stopped_by_time:
        stage = cfg.stages[stage_idx]
        stage_start = time.monotonic()
        # a stage's wall-clock budget restarts on resume (the run's max_minutes does not: elapsed_s is saved)
        stage_elapsed_before = 0.0
        data_cfg = source.make_config(stage.data, cfg.resolution)
        fresh_n = min(cfg.fresh_per_step, cfg.batch_size) if cfg.fresh_per_step else cfg.batch_size
        pool = ReplayPool(cfg.replay_capacity, acc.device) if fresh_n < cfg.batch_size else None
        start = refill_start(position, cfg.replay_capacity) if pool is not None else position
        stream = sample_stream(source, data_cfg, seed=cfg.seed + 1000 * stage_idx, rank=rank, world_size=world,
                               start=start, num_workers=cfg.num_workers)
        if pool is not None and position > start:  # resume: rebuild the pool exactly
            pool.count = start
            for i in range(start, position, 256):
                pool.add(source.collate([next(stream) for _ in range(min(256, position - i))]))
        bar = _progress(stage, stage_step, enabled=progress and main)
        loss_avg, t_log, imgs_log = None, time.monotonic(), 0
        loss_sum, loss_n, data_wait, t_print = 0.0, 0, 0.0, time.monotonic()
        model.train()
        while stage_step < stage.steps:
            # one optimisation step
            t_wait = time.monotonic()
            raw = _batch_to(source.collate([next(stream) for _ in range(fresh_n)]), acc.device)
            data_wait += time.monotonic() - t_wait
            position += fresh_n
            unique += fresh_n * world
            if pool is not None:
                pool.add(raw)
                raw = concat(raw, pool.draw(cfg.batch_size - fresh_n, gen_replay))
            batch = prepare_batch(raw, cfg.objective, gen_obj, stage.one_step_prob).to(acc.device)
            lr = lr_at(stage_step, stage)
            for g in opt.param_groups:
                g["lr"] = lr
            loss = model(batch, gen_noise)
            acc.backward(loss)
            gnorm = acc.clip_grad_norm_(params, cfg.grad_clip) if cfg.grad_clip > 0 else None
            opt.step()
            opt.zero_grad(set_to_none=True)
            ema.update(backend)
            step, stage_step = step + 1, stage_step + 1
            imgs_log += cfg.batch_size * world
            loss_sum, loss_n = loss_sum + loss.detach().float(), loss_n + 1
            if bar is not None:
                bar.update(1)
            if step % cfg.log_every == 0 or stage_step == 1 or stage_step == stage.steps:
                lv = (loss_sum / loss_n).item()  # one device sync per log interval
                loss_sum, loss_n = 0.0, 0
                loss_avg = lv if loss_avg is None else 0.8 * loss_avg + 0.2 * lv
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_avg:.4f}", lr=f"{lr:.2e}")
                elif main and time.monotonic() - t_print >= 30:
                    t_print = time.monotonic()
                    acc.print(f"[{stage.name}] step {step} ({stage_step} in stage) loss {loss_avg:.4f} lr {lr:.2e} "
                              f"{stage_step * cfg.batch_size * world / (t_print - stage_start):.0f} img/s, "
                              f"data wait {data_wait:.0f}s, {elapsed() / 60:.1f} min")
            if main and (step % cfg.log_every == 0 or stage_step == 1):
                now = time.monotonic()
                writer.add_scalar("train/loss", lv, step)
                writer.add_scalar("train/loss_smooth", loss_avg, step)
                writer.add_scalar("train/lr", lr, step)
                writer.add_scalar("train/images_per_s", imgs_log / max(1e-9, now - t_log), step)
                writer.add_scalar("train/data_wait_s_total", data_wait, step)
                if gnorm is not None:
                    writer.add_scalar("train/grad_norm", float(gnorm.to_local() if _is_dtensor(gnorm) else gnorm),
                                      step)
                t_log, imgs_log = now, 0
            if cfg.eval_every and step % cfg.eval_every == 0:
                history.append({"event": "eval", "step": step, "heldout": evaluate("eval")})
            if cfg.snapshot_every and step % cfg.snapshot_every == 0:
                with ema_weights() as net:
                    if main:
                        export_pipeline(net, out / "snapshots" / f"step_{step:07d}", cfg,
                                        {"step": step, "images_seen": step * cfg.batch_size * world,
                                         "unique_samples": unique, "minutes": elapsed() / 60})
            if cfg.ckpt_every and step % cfg.ckpt_every == 0:
                checkpoint(step)
            # wall-clock limits, agreed by all processes
            over = (stage.max_minutes is not None
                    and stage_elapsed_before + time.monotonic() - stage_start >= 60 * stage.max_minutes)
            run_over = cfg.max_minutes is not None and elapsed() >= 60 * cfg.max_minutes
            if world > 1:  # all processes must agree: one small all-reduce (a device sync) per step
                flags = acc.reduce(torch.tensor([float(over), float(run_over)], device=acc.device), reduction="sum")
                over, run_over = bool(flags[0] > 0), bool(flags[1] > 0)
            # one process: decided on the host, so the CPU keeps queueing work ahead of the GPU
            if run_over:
                stopped_by_time = True
            if over or run_over:
                break
        if bar is not None:
            bar.close()
        del stream  # stop this stage's DataLoader workers before the next stage starts its own
        history.append({"event": "stage_end", "stage": stage_idx, "name": stage.name, "steps": stage_step,
                        "global_step": step, "train_loss_smooth": loss_avg,
                        "seconds": stage_elapsed_before + time.monotonic() - stage_start,
                        "images": stage_step * cfg.batch_size * world, "unique_samples_total": unique,
                        "stopped_by": "time" if stage_step < stage.steps else "steps",
                        "data_wait_s": round(data_wait, 2),
                        "heldout": evaluate(f"end of {stage.name}")})
        if stage_idx < len(cfg.stages) - 1 and not stopped_by_time:
            stage_idx, stage_step, position = stage_idx + 1, 0, 0
        else:
            break

    # 4. final checkpoint + export ---------------------------------------------------------------------
    checkpoint(step)
    # sharded weights differ between processes by design: nothing to compare
    in_sync = None if sharded else _ranks_in_sync(acc, backend) if world > 1 else True
    summary = {
        "backend": cfg.backend, "backend_config": cfg.backend_config, "parameters": n_params,
        "steps": step, "images_seen": step * cfg.batch_size * world, "unique_samples": unique,
        "minutes": round(elapsed() / 60, 3),
        "world_size": world, "device": _device_name(acc.device), "mixed_precision": mp,
        "ranks_in_sync": in_sync, "stopped_by_time": stopped_by_time, "resolution": cfg.resolution,
        "stages": [{"name": s.name, "data": s.data, "planned_steps": s.steps, "lr": s.lr} for s in cfg.stages],
        "history": history,
    }
    with ema_weights() as net:
        if main:
            export_pipeline(net, out, cfg, summary)
    if main:
        (out / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        writer.close()
        acc.print(f"exported pipeline to {out} after {step} steps ({summary['minutes']:.2f} min)")
    acc.wait_for_everyone()
    acc.end_training()
    return out


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
    from tqdm.auto import tqdm

    return tqdm(total=stage.steps, initial=done, desc=stage.name, mininterval=2.0, dynamic_ncols=True)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return str(device)


def _is_dtensor(t: Any) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(t, DTensor)


def _fully_shard(objective: nn.Module, backend: nn.Module, mixed_precision: str) -> None:
    """FSDP2 in place: one unit per module of ``backend.fsdp_units()`` when the backend declares them
    (transformer blocks: each must be entered through its own ``forward``), then the root
    (``objective``), which gathers every other parameter; with ``bf16``/``fp16`` the units compute in
    that dtype and reduce gradients in float32."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    compute = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision)
    policy = MixedPrecisionPolicy(param_dtype=compute, reduce_dtype=torch.float32 if compute else None)
    units = getattr(backend, "fsdp_units", None)
    for unit in (units() if callable(units) else []):
        fully_shard(unit, mp_policy=policy)
    fully_shard(objective, mp_policy=policy)


def _configure_deepspeed(acc: Any, cfg: TrainConfig, mixed_precision: str) -> None:
    """Fill DeepSpeed's config from the training config: the micro-batch per process (DeepSpeed
    would read it from a prepared DataLoader), no gradient accumulation, the loop's gradient clipping,
    and mixed precision as under DDP: float32 weights, gradients, master weights and optimiser state,
    the forward in ``torch.autocast`` (DeepSpeed's ``torch_autocast``) instead of DeepSpeed's bf16
    mode, which would cast the whole module (frozen bf16 bases and float32 inputs included) to bf16."""
    ds = acc.state.deepspeed_plugin.deepspeed_config
    stage = ds.get("zero_optimization", {}).get("stage", 0)
    if stage not in (1, 2):
        raise ValueError(f"DeepSpeed ZeRO stage {stage}: the training loop supports stages 1 and 2 (stage 3 "
                         "shards the weights: use FSDP2, configs/accelerate/fsdp.yaml)")
    if mixed_precision == "fp16":
        raise ValueError("fp16 under DeepSpeed is not supported by the training loop: use bf16 or no")
    ds["train_micro_batch_size_per_gpu"] = cfg.batch_size
    ds["gradient_accumulation_steps"] = 1
    ds.pop("train_batch_size", None)  # DeepSpeed derives it (micro-batch x processes)
    ds["gradient_clipping"] = cfg.grad_clip
    ds["bf16"] = {"enabled": False}
    ds["fp16"] = {"enabled": False}
    ds["torch_autocast"] = {"enabled": mixed_precision == "bf16", "dtype": "bfloat16"}


def _zero_model_state(backend: nn.Module, keep: bool) -> dict[str, torch.Tensor]:
    """DeepSpeed ZeRO-1/2: :func:`_trainable_state` with each trainable tensor replaced by its float32
    master weight gathered from the partitions (collective); on the CPU where ``keep``, else ``{}``."""
    from deepspeed.utils import safe_get_full_fp32_param

    state = _trainable_state(backend) if keep else {}
    for name, p in backend.named_parameters():
        if p.requires_grad:
            full = safe_get_full_fp32_param(p)
            if keep:
                state[name] = (p.detach() if full is None else full).float().cpu()
    return state


def _zero_optimizer(opt: Any) -> Any:
    """The ZeRO-1/2 optimiser inside Accelerate's wrapper (it holds the flat float32 partitions)."""
    zero = getattr(opt, "optimizer", opt)
    if not hasattr(zero, "single_partition_of_fp32_groups"):
        raise TypeError(f"expected a DeepSpeed ZeRO stage 1/2 optimiser, got {type(zero).__name__}")
    return zero


def _zero_optimizer_state(backend: nn.Module, opt: Any, keep: bool) -> dict[str, Any]:
    """DeepSpeed ZeRO-1/2: the full optimiser state keyed by parameter name, as under FSDP
    (``"backend.<name>"`` -> ``{"exp_avg": ..., "exp_avg_sq": ..., "step": ...}``), gathered from the
    partitions (collective: one all-reduce per parameter and state tensor); on the CPU where ``keep``,
    else ``{}``."""
    from deepspeed.utils import safe_get_full_optimizer_state

    zero = _zero_optimizer(opt)
    inner = zero.optimizer  # the torch optimiser over this process's flat float32 partitions
    names = {id(p): f"backend.{n}" for n, p in backend.named_parameters()}
    state: dict[str, dict[str, Any]] = {}
    for group, flat in zip(zero.bit16_groups, zero.single_partition_of_fp32_groups, strict=True):
        flat_state = inner.state.get(flat, {})  # empty before the first step
        keys = [k for k, v in flat_state.items() if torch.is_tensor(v) and v.shape == flat.shape]
        rest = {k: v for k, v in flat_state.items() if k not in keys}  # e.g. "step"
        for p in group:
            st = {k: (v.detach().cpu().clone() if torch.is_tensor(v) else v) for k, v in rest.items()}
            for k in keys:
                full = safe_get_full_optimizer_state(p, k)
                if keep:
                    st[k] = full.cpu()
            if keep:
                state[names[id(p)]] = st
    if not keep:
        return {}
    groups = []
    for g, params in zip(inner.param_groups, zero.bit16_groups, strict=True):
        groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": [names[id(p)] for p in params]})
    return {"state": state, "param_groups": groups}


def _load_zero_state(backend: nn.Module, opt: Any, model_state: dict[str, torch.Tensor],
                     opt_state: dict[str, Any]) -> None:
    """DeepSpeed ZeRO-1/2 resume: float32 master weights and the optimiser state from full tensors keyed
    by name (:func:`_zero_model_state`, :func:`_zero_optimizer_state`); each process keeps its partition."""
    from deepspeed.utils import safe_set_full_fp32_param, safe_set_full_optimizer_state

    zero = _zero_optimizer(opt)
    inner = zero.optimizer
    names = {id(p): n for n, p in backend.named_parameters()}
    for group in zero.bit16_groups:
        for p in group:
            safe_set_full_fp32_param(p, model_state[names[id(p)]].to(p.device, torch.float32))
    if not opt_state["state"]:
        return  # saved before the first step: nothing to restore
    for g, saved in zip(inner.param_groups, opt_state["param_groups"], strict=True):
        g.update({k: v for k, v in saved.items() if k != "params"})
    for group, flat in zip(zero.bit16_groups, zero.single_partition_of_fp32_groups, strict=True):
        try:
            per_param = [opt_state["state"][f"backend.{names[id(p)]}"] for p in group]
        except KeyError as err:
            raise ValueError(f"checkpoint has no optimiser state for {err.args[0]}") from None
        # the flat state the optimiser would have made at its first step, then filled per parameter
        flat_state = {}
        for k, v in per_param[0].items():
            if torch.is_tensor(v) and v.shape == group[0].shape:
                flat_state[k] = torch.zeros_like(flat)
            else:
                flat_state[k] = v.detach().clone() if torch.is_tensor(v) else v
        inner.state[flat] = flat_state
    zero._lazy_init_hp_params_optimizer_state()  # link each parameter's fragment to the new state
    for group in zero.bit16_groups:
        for p in group:
            for k, v in opt_state["state"][f"backend.{names[id(p)]}"].items():
                if torch.is_tensor(v) and v.shape == p.shape:
                    safe_set_full_optimizer_state(p, v.to(p.device, torch.float32), k)


def _full_model_state(backend: nn.Module) -> dict[str, torch.Tensor]:
    """Full (unsharded) state_dict on the CPU of the main process, ``{}`` elsewhere; collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(backend, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def _optimizer_state(objective: nn.Module, opt: Any, sharded: bool) -> dict[str, Any]:
    """``opt.state_dict()``; under FSDP the full state keyed by parameter name (collective; main only)."""
    if not sharded:
        return opt.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(objective, opt.optimizer,
                                    options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def _trainable_state(backend: nn.Module, sharded: bool = False) -> dict[str, torch.Tensor]:
    """The whole state_dict when everything trains, else only the trainable tensors (LoRA).

    Under FSDP (``sharded``) the full tensors are gathered onto the main process (collective)."""
    state = _full_model_state(backend) if sharded else backend.state_dict()
    frozen = {k for k, p in backend.named_parameters() if not p.requires_grad}
    return {k: v for k, v in state.items() if k not in frozen}


def _load_trainable_state(backend: nn.Module, state: dict[str, torch.Tensor], sharded: bool = False) -> None:
    """Load full tensors; under FSDP each process keeps its shard (every process reads the file)."""
    if sharded:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        missing, unexpected = set_model_state_dict(backend, state, options=StateDictOptions(
            full_state_dict=True, strict=False))
    else:
        missing, unexpected = backend.load_state_dict(state, strict=False)
    frozen = {k for k, p in backend.named_parameters() if not p.requires_grad}
    bad = [k for k in missing if k not in frozen]
    if bad or unexpected:
        raise ValueError(f"checkpoint does not match the model: missing {bad[:5]}, unexpected {unexpected[:5]}")


def _ranks_in_sync(acc: Any, backend: nn.Module) -> bool:
    """Every process holds the same weights (DDP kept them in step)."""
    vec = torch.cat([p.detach().float().flatten()[:1000] for p in backend.parameters()])
    gathered = acc.gather(vec[None])  # [world, N]
    return bool((gathered - gathered[0:1]).abs().max() == 0)


def _load_init_weights(backend: nn.Module, path: str | Path, exclude: list[str] | tuple[str, ...] = ()) -> None:
    """Weights from a pipeline directory (``backend/model.safetensors``) or a checkpoint (its EMA);
    weights whose names start with a prefix in ``exclude`` keep their fresh initialisation."""
    from safetensors.torch import load_file

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
