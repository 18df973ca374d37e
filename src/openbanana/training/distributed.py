"""Distributed state for the trainer: FSDP2 sharding, DeepSpeed ZeRO-1/2 partitions, full tensors.

The trainer (:mod:`openbanana.training.loop`) runs one way under one process, DDP, FSDP2 and ZeRO;
what differs is where the weights and the optimiser state live, and this module is the one place
that knows it:

- :class:`TrainingObjective` routes ``forward`` to the backend's loss so DDP and FSDP see a forward.
- :func:`fully_shard_objective` (the loop's own FSDP2) and :func:`configure_deepspeed` (ZeRO from
  an Accelerate DeepSpeed config) set a run up.
- :class:`Sharding` says how a run's state is spread (``sharded``: FSDP2 ``DTensor``s; ``zero``:
  ZeRO partitions) and gathers full tensors for a checkpoint (:meth:`Sharding.gather`), loads them
  back so that each process keeps its part (:meth:`Sharding.load`), and checks that replicas
  agree (:meth:`Sharding.ranks_in_sync`).
- :class:`EMAWeights` gives the main process a backend holding the EMA weights for held-out losses
  and exports (under FSDP an unsharded copy, filled with gathered full tensors).

Every gather and load here is collective when the state is spread: every process must call it, in
the same order; only the main process keeps the full tensors (``keep``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from openbanana.batch import Batch
from openbanana.training.config import TrainConfig
from openbanana.training.ema import EMA

# torch.distributed.{fsdp,tensor,checkpoint} (about 1 s to import) and deepspeed (optional, the
# frontier extra) are imported inside the functions: a single-process run never needs them.


class TrainingObjective(nn.Module):
    """Routes ``forward`` to ``backend.training_loss`` so DDP/FSDP see a forward call."""

    def __init__(self, backend: nn.Module) -> None:
        super().__init__()
        self.backend = backend

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.backend.training_loss(batch, generator)


def is_dtensor(t: Any) -> bool:
    """Whether ``t`` is a sharded ``DTensor`` (a parameter or gradient norm under FSDP2)."""
    from torch.distributed.tensor import DTensor

    return isinstance(t, DTensor)


def fully_shard_objective(objective: nn.Module, backend: nn.Module, mixed_precision: str) -> None:
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


def configure_deepspeed(acc: Any, cfg: TrainConfig, mixed_precision: str) -> None:
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


# ============================================================================ one run's layout
@dataclass(frozen=True)
class Sharding:
    """How one run's weights and optimiser state are spread over its processes.

    Attributes:
        sharded: FSDP2: the trainable parameters, their gradients, the optimiser state and the EMA
            are sharded ``DTensor``s.
        zero: DeepSpeed ZeRO-1/2: weights whole on every process, the float32 master weights and
            the AdamW state partitioned.
    """

    sharded: bool = False
    zero: bool = False

    def gathers(self, main: bool) -> bool:
        """Whether this process takes part in gathering a checkpoint's full tensors (every process
        when the state is spread, else the main one only)."""
        return main or self.sharded or self.zero

    def gather(self, backend: nn.Module, objective: nn.Module, opt: Any,
               main: bool) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The trainable weights and the optimiser state as full tensors (the optimiser state keyed
        by parameter name when spread); collective when spread, full on the main process only.
        Call it only where :meth:`gathers`."""
        if self.zero:
            return zero_model_state(backend, main), zero_optimizer_state(backend, opt, main)
        return trainable_state(backend, self.sharded), optimizer_state(objective, opt, self.sharded)

    def load_weights(self, backend: nn.Module, model_state: dict[str, torch.Tensor]) -> None:
        """Resume the trainable weights from full tensors; under FSDP each process keeps its shard
        (every process reads the files)."""
        load_trainable_state(backend, model_state, self.sharded)

    def load_optimizer(self, backend: nn.Module, objective: nn.Module, opt: Any,
                       model_state: dict[str, torch.Tensor], opt_state: dict[str, Any]) -> None:
        """Resume the optimiser (and under ZeRO the float32 master weights) from full tensors."""
        if self.zero:
            load_zero_state(backend, opt, model_state, opt_state)
        elif self.sharded:  # a full optimiser state dict keyed by parameter name; each process keeps its shard
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(objective, opt.optimizer, opt_state,
                                     options=StateDictOptions(full_state_dict=True))
        else:
            opt.load_state_dict(opt_state)

    def ranks_in_sync(self, acc: Any, backend: nn.Module) -> bool | None:
        """Every process holds the same weights (DDP kept them in step); ``None`` when sharded
        (shards differ by design), ``True`` for one process."""
        if self.sharded:
            return None
        return ranks_in_sync(acc, backend) if acc.num_processes > 1 else True


class EMAWeights:
    """The EMA weights in a backend on the main process, for held-out losses and exports.

    Unsharded, the EMA is swapped into the training backend for the ``with`` block. Under FSDP the
    full weights and the EMA are gathered (collective: every process enters the block) into an
    unsharded copy of the backend, built once on the main process by ``build`` (under a forked RNG,
    so building it leaves the run's random draws as they were); other processes get ``None``.

    Args:
        sharding: the run's layout.
        backend: the training backend (sharded under FSDP).
        ema: its EMA.
        main: whether this is the main process.
        build: makes a fresh unsharded backend on the main process's device.
    """

    def __init__(self, sharding: Sharding, backend: nn.Module, ema: EMA, main: bool,
                 build: Callable[[], nn.Module]) -> None:
        self.sharding, self.backend, self.ema, self.main, self.build = sharding, backend, ema, main, build
        self._copy: nn.Module | None = None

    def __call__(self) -> contextlib.AbstractContextManager[nn.Module | None]:
        """A context giving the main process a backend holding the EMA weights (``None`` elsewhere)."""
        if self.sharding.sharded:
            return contextlib.nullcontext(self._unsharded())
        return self.ema.swapped_in(self.backend) if self.main else contextlib.nullcontext(None)

    def _unsharded(self) -> nn.Module | None:
        state = full_model_state(self.backend)
        ema_state = self.ema.state_dict()
        if not self.main:
            return None
        if self._copy is None:
            with torch.random.fork_rng(devices=[]):  # building draws init weights: keep the run's RNG
                self._copy = self.build()
        self._copy.load_state_dict({**state, **ema_state})
        return self._copy


# ============================================================================ FSDP2 and plain state dicts
def full_model_state(backend: nn.Module) -> dict[str, torch.Tensor]:
    """Full (unsharded) state_dict on the CPU of the main process, ``{}`` elsewhere; collective."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(backend, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def optimizer_state(objective: nn.Module, opt: Any, sharded: bool) -> dict[str, Any]:
    """``opt.state_dict()``; under FSDP the full state keyed by parameter name (collective; main only)."""
    if not sharded:
        return opt.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(objective, opt.optimizer,
                                    options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def trainable_state(backend: nn.Module, sharded: bool = False) -> dict[str, torch.Tensor]:
    """The whole state_dict when everything trains, else only the trainable tensors (LoRA).

    Under FSDP (``sharded``) the full tensors are gathered onto the main process (collective)."""
    state = full_model_state(backend) if sharded else backend.state_dict()
    frozen = {k for k, p in backend.named_parameters() if not p.requires_grad}
    return {k: v for k, v in state.items() if k not in frozen}


def load_trainable_state(backend: nn.Module, state: dict[str, torch.Tensor], sharded: bool = False) -> None:
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


def ranks_in_sync(acc: Any, backend: nn.Module) -> bool:
    """Every process holds the same weights (compares the first 1000 values of each parameter)."""
    vec = torch.cat([p.detach().float().flatten()[:1000] for p in backend.parameters()])
    gathered = acc.gather(vec[None])  # [world, N]
    return bool((gathered - gathered[0:1]).abs().max() == 0)


# ============================================================================ DeepSpeed ZeRO-1/2
def zero_model_state(backend: nn.Module, keep: bool) -> dict[str, torch.Tensor]:
    """DeepSpeed ZeRO-1/2: :func:`trainable_state` with each trainable tensor replaced by its float32
    master weight gathered from the partitions (collective); on the CPU where ``keep``, else ``{}``."""
    from deepspeed.utils import safe_get_full_fp32_param

    state = trainable_state(backend) if keep else {}
    for name, p in backend.named_parameters():
        if p.requires_grad:
            full = safe_get_full_fp32_param(p)
            if keep:
                state[name] = (p.detach() if full is None else full).float().cpu()
    return state


def zero_optimizer(opt: Any) -> Any:
    """The ZeRO-1/2 optimiser inside Accelerate's wrapper (it holds the flat float32 partitions)."""
    zero = getattr(opt, "optimizer", opt)
    if not hasattr(zero, "single_partition_of_fp32_groups"):
        raise TypeError(f"expected a DeepSpeed ZeRO stage 1/2 optimiser, got {type(zero).__name__}")
    return zero


def zero_optimizer_state(backend: nn.Module, opt: Any, keep: bool) -> dict[str, Any]:
    """DeepSpeed ZeRO-1/2: the full optimiser state keyed by parameter name, as under FSDP
    (``"backend.<name>"`` -> ``{"exp_avg": ..., "exp_avg_sq": ..., "step": ...}``), gathered from the
    partitions (collective: one all-reduce per parameter and state tensor); on the CPU where ``keep``,
    else ``{}``."""
    from deepspeed.utils import safe_get_full_optimizer_state

    zero = zero_optimizer(opt)
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


def load_zero_state(backend: nn.Module, opt: Any, model_state: dict[str, torch.Tensor],
                    opt_state: dict[str, Any]) -> None:
    """DeepSpeed ZeRO-1/2 resume: float32 master weights and the optimiser state from full tensors keyed
    by name (:func:`zero_model_state`, :func:`zero_optimizer_state`); each process keeps its partition."""
    from deepspeed.utils import safe_set_full_fp32_param, safe_set_full_optimizer_state

    zero = zero_optimizer(opt)
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
