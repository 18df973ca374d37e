"""Checkpoints with exact resume: tensors in safetensors, everything else in JSON, nothing pickled.

Layout of ``RUN/checkpoints/step_0000500/``::

    model.safetensors        the backend's state_dict (float32)
    ema.safetensors          the EMA shadow weights
    optimizer.safetensors    optimiser state tensors, keys ``"<param>.<name>"`` (param: its index, or
                             its dotted name in a full FSDP optimiser state dict)
    optimizer.json           the optimiser's hyper-parameters and scalar state
    rng_rank<R>.safetensors  torch CPU/CUDA RNG states and the loop's generators, per process
    rng_rank<R>.json         Python and NumPy RNG states, per process
    state.json               step, stage, data position, EMA count, elapsed time, ... and
                             ``"files"``: the size and SHA-256 of every other file. Written last:
                             it is the commit marker of the checkpoint

Crash safety. Every file is written beside its final name (``.tmp-<name>.<pid>``), flushed to disk
(``fsync``) and renamed over the final name (``os.replace``, atomic); then the folder itself is
synced, so the renames survive a power cut. ``state.json`` is written the same way, after every
process's files are on disk, and before a folder is written again its old ``state.json`` is removed
first. So a checkpoint is either complete, or it has no ``state.json`` or a ``state.json`` whose
sizes and checksums do not match the files.

:func:`verify_checkpoint` checks one before it is trusted: every JSON file parses, every safetensors
header parses and describes exactly the file's bytes, each file has the size (and, optionally, the
SHA-256) that ``state.json`` recorded. :func:`resumable_checkpoint` picks the newest checkpoint of a
run that passes, saying on one line per skipped checkpoint what was wrong with it, and
:func:`prune_checkpoints` deletes half-written folders older than the newest good checkpoint.
Checkpoints written before ``state.json`` held ``"files"`` are checked the same way, less the
recorded sizes and checksums.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from openbanana.errors import OpenBananaError

STATE_FILE = "state.json"
#: the key of ``state.json`` that lists every other file: ``{name: {"bytes": int, "sha256": hex}}``
MANIFEST_KEY = "files"
SHARED_FILES = ("model.safetensors", "ema.safetensors", "optimizer.safetensors", "optimizer.json")
_TMP_PREFIX = ".tmp-"
_STEP_RE = re.compile(r"step_(\d+)")
#: a safetensors header larger than this is taken as corruption (real ones are KB to a few MB)
_MAX_HEADER_BYTES = 100 << 20
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2,
                "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class CheckpointError(OpenBananaError):
    """A checkpoint is incomplete or corrupt; the message names the file and what is wrong."""


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:07d}"


def rank_files(rank: int) -> tuple[str, str]:
    return f"rng_rank{rank}.safetensors", f"rng_rank{rank}.json"


def expected_files(world_size: int = 1) -> list[str]:
    """The files of a complete checkpoint written by ``world_size`` processes (state.json aside)."""
    return [*SHARED_FILES, *(name for r in range(max(1, int(world_size))) for name in rank_files(r))]


# ---------------------------------------------------------------------------- durable writes
def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make renames and deletions in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows: folders cannot be opened; NTFS journals the rename itself
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _tmp_path(final: Path) -> Path:
    return final.with_name(f"{_TMP_PREFIX}{final.name}.{os.getpid()}")


def _write_aside(final: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` beside ``final``, fsync it, rename it over ``final`` (the caller syncs the folder)."""
    tmp = _tmp_path(final)
    try:
        write(tmp)
        _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes, *, sync_dir: bool = True) -> Path:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never a torn one."""
    path = Path(path)
    _write_aside(path, lambda tmp: tmp.write_bytes(data))
    if sync_dir:
        _fsync_dir(path.parent)
    return path


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    _write_aside(path, lambda tmp: save_file(tensors, str(tmp)))


def _save_json(obj: Any, path: Path, indent: int | None = None) -> None:
    text = json.dumps(obj, indent=indent) + ("\n" if indent else "")
    _write_aside(path, lambda tmp: tmp.write_text(text))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


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


# ---------------------------------------------------------------------------- save
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
    commit: bool = True,
) -> Path:
    """Write one process's share of a checkpoint (the main process writes the shared files).

    Every file is written aside, synced and renamed into place, then the folder is synced. The
    main process first removes an old ``state.json`` of the folder (a checkpoint written again).

    Args:
        commit: on the main process, write ``state.json`` (:func:`commit_checkpoint`) at the end.
            With several processes pass False, synchronise them, then call
            :func:`commit_checkpoint` on the main process, so that ``state.json`` follows every
            process's files.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if is_main and (d / STATE_FILE).exists():  # written again: not a complete checkpoint meanwhile
        (d / STATE_FILE).unlink()
        _fsync_dir(d)
    rng_t, rng_meta = rng_to_files(generators)
    rng_tensors_name, rng_json_name = rank_files(rank)
    _save_tensors(rng_t, d / rng_tensors_name)
    _save_json(rng_meta, d / rng_json_name)
    if is_main:
        _save_tensors({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, d / "model.safetensors")
        _save_tensors({k: v.detach().cpu().contiguous() for k, v in ema_state.items()}, d / "ema.safetensors")
        opt_t, opt_meta = optimizer_to_files(optimizer_state)
        _save_tensors(opt_t, d / "optimizer.safetensors")
        _save_json(opt_meta, d / "optimizer.json", indent=1)
    _fsync_dir(d)
    if is_main and commit:
        commit_checkpoint(d, state, world_size=int(state.get("world_size", 1)))
    return d


def commit_checkpoint(directory: str | Path, state: dict[str, Any], *, world_size: int = 1) -> Path:
    """Write ``state.json`` (with the size and SHA-256 of every file) durably: the commit marker.

    Call it once every process's files are on disk (main process only).

    Raises:
        CheckpointError: a file of the checkpoint is missing.
    """
    d = Path(directory)
    manifest = {}
    for name in expected_files(world_size):
        p = d / name
        if not p.is_file():
            raise CheckpointError(f"{p}: missing; the checkpoint cannot be committed")
        manifest[name] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
    body = {k: v for k, v in state.items() if k != MANIFEST_KEY}
    body[MANIFEST_KEY] = manifest
    write_bytes_atomic(d / STATE_FILE, (json.dumps(body, indent=2) + "\n").encode())
    return d


# ---------------------------------------------------------------------------- verify
def _read_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if not data:
        raise CheckpointError(f"{path}: empty file (0 bytes)")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc}), {len(data):,} bytes") from None


def _check_safetensors(path: Path, size: int) -> None:
    """The header parses and its tensors cover exactly the bytes after it (a torn file fails)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated ({size:,} bytes, no safetensors header)")
        n = int.from_bytes(head, "little")
        if n > size - 8 or n > _MAX_HEADER_BYTES:
            raise CheckpointError(f"{path}: truncated or corrupt (a {n:,}-byte header in a {size:,}-byte file)")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupt safetensors header ({exc})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header (not a JSON object)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, stop = (int(v) for v in info["data_offsets"])
            shape = [int(v) for v in info["shape"]]
            dtype = str(info["dtype"])
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"{path}: corrupt safetensors header (tensor {name!r})") from None
        width = _DTYPE_BYTES.get(dtype)
        if stop < begin or (width is not None and stop - begin != math.prod(shape) * width):
            raise CheckpointError(f"{path}: corrupt safetensors header (tensor {name!r}: offsets {begin}..{stop} "
                                  f"for {dtype} {shape})")
        end = max(end, stop)
    if 8 + n + end != size:
        raise CheckpointError(f"{path}: {size:,} bytes, but its header describes {8 + n + end:,} "
                              f"({'truncated' if size < 8 + n + end else 'trailing bytes'})")


def verify_checkpoint(directory: str | Path, *, checksums: bool = True) -> dict[str, Any]:
    """Check that a checkpoint folder is complete and intact before trusting it.

    Checks: ``state.json`` parses to an object; every file of the checkpoint (those ``state.json``
    lists, and the standard ones for its ``world_size``) exists, has the recorded size, and parses
    (JSON files) or has a safetensors header that describes exactly its bytes; with ``checksums``,
    each file's SHA-256 matches the recorded one (this reads every byte).

    Returns:
        The parsed ``state.json`` (``"files"`` included).

    Raises:
        CheckpointError: naming the first file that fails and why.
    """
    d = Path(directory)
    state_path = d / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(f"{state_path}: missing (the checkpoint was never finished)")
    state = _read_json(state_path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{state_path}: expected a JSON object, got {type(state).__name__}")
    try:
        world = int(state.get("world_size", 1))
    except (TypeError, ValueError):
        raise CheckpointError(f"{state_path}: bad world_size {state.get('world_size')!r}") from None
    manifest = state.get(MANIFEST_KEY, {})
    if not isinstance(manifest, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and k == Path(k).name and not k.startswith(".")
            and isinstance(v.get("bytes", 0), int) and isinstance(v.get("sha256", ""), str)
            for k, v in manifest.items()):
        raise CheckpointError(f"{state_path}: bad {MANIFEST_KEY!r} list")
    names = list(dict.fromkeys([*expected_files(world), *manifest]))
    for name in names:
        p = d / name
        if not p.is_file():
            raise CheckpointError(f"{p}: missing")
        size = p.stat().st_size
        rec = manifest.get(name, {})
        if "bytes" in rec and size != rec["bytes"]:
            raise CheckpointError(f"{p}: {size:,} bytes, {STATE_FILE} recorded {rec['bytes']:,} (a torn or "
                                  "overwritten file)")
        if name.endswith(".json"):
            _read_json(p)
        elif name.endswith(".safetensors"):
            _check_safetensors(p, size)
        if checksums and "sha256" in rec and _sha256(p) != rec["sha256"]:
            raise CheckpointError(f"{p}: contents differ from the SHA-256 that {STATE_FILE} recorded (corrupt)")
    return state


def _step_of(path: Path) -> int | None:
    m = _STEP_RE.fullmatch(path.name)
    return int(m.group(1)) if m else None


def _step_dirs(run_dir: Path) -> list[Path]:
    """``run_dir/checkpoints/step_*`` folders, oldest step first."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    found = [(s, p) for p in root.iterdir() if p.is_dir() and (s := _step_of(p)) is not None]
    return [p for _, p in sorted(found)]


def _is_checkpoint(path: Path) -> bool:
    return (path / STATE_FILE).exists() or (_step_of(path) is not None and not (path / "checkpoints").is_dir())


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def resumable_checkpoint(path: str | Path, *, checksums: bool = True,
                         warn: Callable[[str], None] | None = _stderr) -> Path:
    """The checkpoint to resume from.

    Args:
        path: a checkpoint folder (used as it is, when it verifies), or a run folder (its newest
            checkpoint that verifies: newer ones that do not are skipped).
        checksums: verify SHA-256 sums too (reads every byte; sizes and headers are always checked).
        warn: called with one line per skipped checkpoint (default: print to stderr).

    Raises:
        CheckpointError: ``path`` is a checkpoint that fails verification, or a run whose
            checkpoints all fail (each one's reason listed).
        FileNotFoundError: no checkpoint at all.
    """
    p = Path(path)
    if _is_checkpoint(p):
        try:
            verify_checkpoint(p, checksums=checksums)
        except CheckpointError as err:
            raise CheckpointError(f"cannot resume from {p}: {err}; resume from the run folder to fall back to "
                                  "its newest good checkpoint") from None
        return p
    candidates = _step_dirs(p)
    if not candidates:
        raise FileNotFoundError(f"no checkpoint in {p} (expected {p}/checkpoints/step_*/{STATE_FILE})")
    skipped: list[tuple[Path, CheckpointError]] = []
    for c in reversed(candidates):
        try:
            verify_checkpoint(c, checksums=checksums)
        except CheckpointError as err:
            skipped.append((c, err))
            continue
        if warn is not None:
            for s, err in skipped:
                warn(f"resume: skipped checkpoint {s.name}: {err}; falling back to {c.name}")
        return c
    raise CheckpointError(f"no complete checkpoint in {p}: " + "; ".join(f"{c.name}: {e}" for c, e in skipped))


def latest_checkpoint(path: str | Path) -> Path:
    """``path`` itself when it is a checkpoint, else the newest one under ``path/checkpoints`` whose
    files are complete (sizes and headers checked, not checksums); skipped ones are reported on stderr."""
    return resumable_checkpoint(path, checksums=False)


# ---------------------------------------------------------------------------- load
def load_checkpoint(directory: str | Path, *, rank: int = 0, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint: ``{"model", "ema", "optimizer", "rng_tensors", "rng_meta", "state"}``.

    The folder is verified first (sizes and headers; :func:`resumable_checkpoint` also checks the
    checksums), and every error names the file.
    """
    d = Path(directory)
    state = verify_checkpoint(d, checksums=False)
    rng_name, rng_json = rank_files(rank)
    if not (d / rng_name).is_file():
        raise ValueError(f"{d} has no RNG state for rank {rank}: resume with the same number of processes")
    device = torch.device(device)
    device = "cpu" if device.type == "cpu" else str(device)  # safetensors refuses "cpu:0" (multi-process CPU)

    def tensors(name: str, dev: str = "cpu") -> dict[str, torch.Tensor]:
        try:
            return load_file(str(d / name), device=dev)
        except Exception as exc:  # noqa: BLE001 -- safetensors raises its own SafetensorError
            raise CheckpointError(f"{d / name}: cannot be read ({exc})") from None

    return {
        "model": tensors("model.safetensors", device),
        "ema": tensors("ema.safetensors", device),
        "optimizer": optimizer_from_files(tensors("optimizer.safetensors", device), _read_json(d / "optimizer.json")),
        "rng_tensors": tensors(rng_name),
        "rng_meta": _read_json(d / rng_json),
        "state": {k: v for k, v in state.items() if k != MANIFEST_KEY},
    }


# ---------------------------------------------------------------------------- prune
def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete old and half-written checkpoints of a run.

    - all but the ``keep`` newest good checkpoints (keep <= 0: keep every good one);
    - every folder older than the newest good checkpoint that is not a good checkpoint (no
      ``state.json``, or one that fails :func:`verify_checkpoint` without checksums): a write
      that was interrupted. Newer ones are left alone (they may still be being written);
    - leftover ``.tmp-*`` files inside the good checkpoints kept.
    """
    dirs = _step_dirs(Path(run_dir))
    good = []
    for c in dirs:
        try:
            verify_checkpoint(c, checksums=False)
            good.append(c)
        except CheckpointError:
            pass
    if not good:
        return
    newest = _step_of(good[-1])
    doomed = [c for c in dirs if c not in good and _step_of(c) < newest]
    if keep > 0:
        doomed += good[:-keep]
    for c in doomed:
        shutil.rmtree(c, ignore_errors=True)
    for c in good[-keep:] if keep > 0 else good:
        for tmp in c.glob(f"{_TMP_PREFIX}*"):
            tmp.unlink(missing_ok=True)
