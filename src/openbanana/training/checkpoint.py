"""Checkpoints with exact resume: tensors in safetensors, everything else in JSON, nothing pickled.

Layout of ``RUN/checkpoints/step_0000500/``::

    model.safetensors        the backend's state_dict (float32)
    ema.safetensors          the EMA shadow weights
    optimizer.safetensors    optimiser state tensors, keys ``"<param>.<name>"`` (param: its index, or
                             its dotted name in a full FSDP optimiser state dict)
    rng_rank<R>.safetensors  torch CPU/CUDA RNG states and the loop's generators, per process
    rng_rank<R>.json         Python and NumPy RNG states, per process
    state.json               step, stage, data position, EMA count, optimiser hyper-parameters,
                             elapsed time; written last, so its presence marks a complete checkpoint
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

STATE_FILE = "state.json"


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:07d}"


def latest_checkpoint(path: str | Path) -> Path:
    """``path`` itself when it is a checkpoint, else the newest complete one under ``path/checkpoints``."""
    p = Path(path)
    if (p / STATE_FILE).is_file():
        return p
    found = sorted(c for c in (p / "checkpoints").glob("step_*") if (c / STATE_FILE).is_file())
    if not found:
        raise FileNotFoundError(f"no complete checkpoint in {p} (expected {p}/checkpoints/step_*/{STATE_FILE})")
    return found[-1]


# ---------------------------------------------------------------------------- optimiser
def optimizer_to_files(opt_state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-able tensors and JSON-able rest."""
    tensors, scalars = {}, {}
    for idx, st in opt_state["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{idx}.{name}"] = v.detach().cpu().clone()
            else:
                scalars[f"{idx}.{name}"] = v
    return tensors, {"param_groups": opt_state["param_groups"], "scalars": scalars}


def optimizer_from_files(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, v in [*tensors.items(), *meta["scalars"].items()]:
        param, name = key.rsplit(".", 1)  # state names (exp_avg, step) hold no dot; FSDP param names do
        state.setdefault(int(param) if param.isdigit() else param, {})[name] = v
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


# ---------------------------------------------------------------------------- RNG
def rng_to_files(generators: dict[str, torch.Generator]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["torch_cuda"] = torch.cuda.get_rng_state()
    for name, g in generators.items():
        tensors[f"gen.{name}"] = g.get_state()
    py = random.getstate()
    np_state = np.random.get_state()
    meta = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    return tensors, meta


def rng_from_files(tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                   generators: dict[str, torch.Generator]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["torch_cuda"])
    for name, g in generators.items():
        key = f"gen.{name}"
        if key not in tensors:
            raise ValueError(f"checkpoint has no state for generator {name!r}")
        g.set_state(tensors[key])
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), n[2], n[3], n[4]))


# ---------------------------------------------------------------------------- save / load
def save_checkpoint(
    directory: str | Path,
    *,
    model_state: dict[str, torch.Tensor] | None,
    ema_state: dict[str, torch.Tensor] | None,
    optimizer_state: dict[str, Any] | None,
    generators: dict[str, torch.Generator],
    state: dict[str, Any],
    rank: int = 0,
    is_main: bool = True,
) -> Path:
    """Write one process's share of a checkpoint (the main process writes the shared files).

    The caller must synchronise processes before and after; ``state.json`` is written by the main
    process after its other files, so a directory without it is incomplete.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rng_t, rng_meta = rng_to_files(generators)
    save_file(rng_t, str(d / f"rng_rank{rank}.safetensors"))
    (d / f"rng_rank{rank}.json").write_text(json.dumps(rng_meta))
    if is_main:
        save_file({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, str(d / "model.safetensors"))
        save_file({k: v.detach().cpu().contiguous() for k, v in ema_state.items()}, str(d / "ema.safetensors"))
        opt_t, opt_meta = optimizer_to_files(optimizer_state)
        save_file(opt_t, str(d / "optimizer.safetensors"))
        (d / "optimizer.json").write_text(json.dumps(opt_meta, indent=1))
        (d / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
    return d


def load_checkpoint(directory: str | Path, *, rank: int = 0, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint: ``{"model", "ema", "optimizer", "rng_tensors", "rng_meta", "state"}``."""
    d = Path(directory)
    if not (d / STATE_FILE).is_file():
        raise FileNotFoundError(f"{d} is not a complete checkpoint (no {STATE_FILE})")
    rng_file = d / f"rng_rank{rank}.safetensors"
    if not rng_file.is_file():
        raise ValueError(f"{d} has no RNG state for rank {rank}: resume with the same number of processes")
    opt_meta = json.loads((d / "optimizer.json").read_text())
    device = torch.device(device)
    device = "cpu" if device.type == "cpu" else str(device)  # safetensors refuses "cpu:0" (multi-process CPU)
    return {
        "model": load_file(str(d / "model.safetensors"), device=str(device)),
        "ema": load_file(str(d / "ema.safetensors"), device=str(device)),
        "optimizer": optimizer_from_files(load_file(str(d / "optimizer.safetensors"), device=str(device)), opt_meta),
        "rng_tensors": load_file(str(rng_file)),
        "rng_meta": json.loads((d / f"rng_rank{rank}.json").read_text()),
        "state": json.loads((d / STATE_FILE).read_text()),
    }


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` newest complete checkpoints (keep <= 0: keep all)."""
    if keep <= 0:
        return
    found = sorted(c for c in (Path(run_dir) / "checkpoints").glob("step_*") if (c / STATE_FILE).is_file())
    for old in found[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
