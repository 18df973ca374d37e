"""Replay data from the frozen base model, and the generation drift of a tuned one.

The paper keeps its generator's abilities by mixing the vision samples into the generator's own
training data. FLUX.2 [klein]'s training data is not available, so the frozen base model makes
its own: text-to-image samples from a prompt set, and edit samples (one of its images, an edit
instruction, its edit of that image). They are written once to WebDataset shards
(:func:`write_replay_shards`), read back as a training stream (:class:`ReplayDataset`, the same
sample dicts as :mod:`openbanana.data.mixture`) and mixed into instruction tuning.

Because every replay image is the base model's output for a stored seed, the same shards measure
how far a tuned model has drifted (:func:`generation_drift`):

- ``fm_loss``: mean flow-matching loss on held-out replay samples with fixed noise and noise
  levels: the tuned model's loss on data its base generated (it rises as generation drifts);
- ``pixel_l1`` / ``psnr_db``: regenerate each held-out sample with its stored seed and steps and
  compare it to the stored image (exactly the base model's output: L1 ~ 0 before tuning, up to
  GPU nondeterminism; it grows as the tuned model's generations move away from the base's).

For a LoRA backend the "before" numbers come from the same object with its adapters switched off.

The backend is passed in (any object with the FLUX.2 [klein] backend's ``sample``,
``training_loss`` and ``device``); the command line that loads one is :mod:`openbanana.cli.flux2_replay`.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import webdataset as wds
from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info
from tqdm.auto import tqdm

from openbanana.batch import collate, images_to_unit, unit_to_images
from openbanana.data.shards import write_shards
from openbanana.errors import DataLayoutError

MANIFEST = "replay.json"
#: a small built-in prompt set (written for this project); pass your own with ``prompts=``
DEFAULT_PROMPTS = (
    "a sunlit living room with a red armchair, a wooden floor and plants by the window",
    "a narrow european street after rain, reflections on cobblestones, evening light",
    "a close-up photo of a ceramic teapot on a kitchen table, soft morning light",
    "an aerial view of a river winding through autumn forests",
    "a modern office with glass walls, desks and people working on laptops",
    "a bowl of ramen with egg and spring onions, top-down food photography",
    "a snowy mountain cabin at dusk with warm light in the windows",
    "a city intersection with cars, cyclists and pedestrians at noon",
    "a portrait of an old fisherman with a knitted hat, overcast light",
    "a child's bedroom with toys on the floor and a bunk bed",
    "a supermarket aisle full of colourful cereal boxes",
    "a watercolour painting of a lighthouse on a cliff",
    "a golden retriever running on a beach, splashing water",
    "a bicycle leaning against a brick wall covered in ivy",
    "a minimalist bathroom with a freestanding tub and large window",
    "a night market with lanterns, food stalls and crowds",
    "a highway through a desert with a truck in the distance",
    "a library reading room with tall shelves and green lamps",
    "a macro photo of a dragonfly on a reed",
    "a construction site with cranes and scaffolding under a blue sky",
    "a cosy cafe interior with a barista behind the counter",
    "an isometric illustration of a tiny island village",
    "a train platform in the morning fog with a waiting commuter",
    "a garden with raised vegetable beds and a greenhouse",
)
DEFAULT_EDITS = (
    "make it night time",
    "turn it into a pencil sketch",
    "add snow everywhere",
    "change the main colour to blue",
    "remove the people",
    "make it look like an oil painting",
    "add a cat in the foreground",
    "make the scene foggy",
)


@dataclass
class ReplayConfig:
    """What the base model generates.

    Attributes:
        prompts: text-to-image prompts (cycled when ``num_samples`` exceeds them).
        edit_instructions: edits applied to a generated image to make edit samples.
        edit_share: share of samples that are edit pairs (the rest are text-to-image).
        num_samples: total samples over all ranks.
        resolution: square side in pixels.
        num_inference_steps: sampler steps (4 for the distilled klein).
        guidance_text: text guidance (1 = off; the distilled model needs none).
        seed: sample ``i`` uses seeds derived from ``(seed, i)`` only.
        holdout_share: share of samples written to ``val/`` (for the drift measure).
        shard_size: samples per tar file.
        batch_size: samples generated per call.
    """

    prompts: tuple[str, ...] = DEFAULT_PROMPTS
    edit_instructions: tuple[str, ...] = DEFAULT_EDITS
    edit_share: float = 0.3
    num_samples: int = 1000
    resolution: int = 1024
    num_inference_steps: int = 4
    guidance_text: float = 1.0
    seed: int = 0
    holdout_share: float = 0.05
    shard_size: int = 500
    batch_size: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prompts, self.edit_instructions = tuple(self.prompts), tuple(self.edit_instructions)
        problems = []
        if not self.prompts:
            problems.append("prompts must not be empty")
        if self.edit_share > 0 and not self.edit_instructions:
            problems.append("edit_instructions must not be empty when edit_share > 0")
        for k in ("edit_share", "holdout_share"):
            if not 0 <= getattr(self, k) <= 1:
                problems.append(f"{k} must be in [0, 1], got {getattr(self, k)}")
        for k in ("num_samples", "resolution", "num_inference_steps", "shard_size", "batch_size"):
            if getattr(self, k) < 1:
                problems.append(f"{k} must be >= 1, got {getattr(self, k)}")
        if problems:
            raise ValueError("invalid ReplayConfig:\n  " + "\n  ".join(problems))


# ============================================================================ the plan
def plan_sample(cfg: ReplayConfig, i: int) -> dict[str, Any]:
    """What sample ``i`` is: task, prompt(s), seeds and split (a pure function of ``(cfg.seed, i)``)."""
    rng = np.random.default_rng([cfg.seed, i])
    u_edit, u_split = rng.random(2)
    plan = {"index": i, "prompt": cfg.prompts[i % len(cfg.prompts)], "task": "t2i",
            "seed": int(cfg.seed * 2**32 + 2 * i), "split": "val" if u_split < cfg.holdout_share else "train",
            "steps": cfg.num_inference_steps, "resolution": cfg.resolution}
    if u_edit < cfg.edit_share:
        plan.update(task="edit", instruction=cfg.edit_instructions[int(rng.integers(len(cfg.edit_instructions)))],
                    edit_seed=int(cfg.seed * 2**32 + 2 * i + 1))
    return plan


def seeded_noise(backend: Any, seeds: list[int], resolution: int) -> torch.Tensor:
    """One CPU-seeded draw per sample ``[B, C, h, w]`` (independent of batching and device)."""
    shape = backend.latent_shape(resolution, resolution)
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _unpng(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)).convert("RGB"))


#: ``[B, 3, H, W]`` in [-1, 1] -> uint8 ``(B, H, W, 3)`` (:func:`openbanana.batch.unit_to_images`)
to_uint8 = unit_to_images
#: uint8 ``(B, H, W, 3)`` -> ``[B, 3, H, W]`` float32 in [-1, 1] (:func:`openbanana.batch.images_to_unit`)
to_float = images_to_unit


@torch.no_grad()
def generate(backend: Any, plans: list[dict[str, Any]], cfg: ReplayConfig) -> list[dict[str, Any]]:
    """Run the base model for a batch of plans; returns WebDataset samples (member -> bytes)."""
    res = cfg.resolution
    images = backend.sample(None, [p["prompt"] for p in plans], height=res, width=res,
                            num_inference_steps=cfg.num_inference_steps, guidance_text=cfg.guidance_text,
                            noise=seeded_noise(backend, [p["seed"] for p in plans], res))
    first = to_uint8(images)
    targets = list(first)
    edits = [j for j, p in enumerate(plans) if p["task"] == "edit"]
    if edits:
        cond = to_float(first[edits])  # the stored (8-bit) image, exactly what drift regenerates from
        edited = backend.sample(cond, [plans[j]["instruction"] for j in edits], height=res, width=res,
                                num_inference_steps=cfg.num_inference_steps, guidance_text=cfg.guidance_text,
                                noise=seeded_noise(backend, [plans[j]["edit_seed"] for j in edits], res))
        for j, img in zip(edits, to_uint8(edited)):
            targets[j] = img
    out = []
    for j, p in enumerate(plans):
        sample = {"__key__": f"replay-{p['index']:09d}", "target.png": _png(targets[j]),
                  "json": json.dumps(p).encode()}
        if p["task"] == "edit":
            sample["cond.png"] = _png(first[j])
        out.append(sample)
    return out


def write_replay_shards(backend: Any, cfg: ReplayConfig, out_dir: str | Path, *, rank: int = 0,
                        world_size: int = 1, progress: bool = True) -> dict[str, Any]:
    """Generate this rank's share (``i % world_size == rank``) and write ``out/{train,val}/*.tar``.

    Returns a summary; rank 0 also writes ``out/replay.json`` (config, base model, counts).
    """
    out = Path(out_dir)
    plans = [plan_sample(cfg, i) for i in range(rank, cfg.num_samples, world_size)]
    bar = None
    if progress:
        bar = tqdm(total=len(plans), desc=f"replay rank {rank}", mininterval=2.0)

    def stream(split: str) -> Iterator[dict]:
        todo = [p for p in plans if p["split"] == split]
        for k in range(0, len(todo), cfg.batch_size):
            chunk = todo[k : k + cfg.batch_size]
            yield from generate(backend, chunk, cfg)
            if bar is not None:
                bar.update(len(chunk))

    counts = {}
    for split in ("train", "val"):
        paths = write_shards(stream(split), str(out / split), shard_size=cfg.shard_size,
                             prefix=f"replay-r{rank:03d}")
        counts[split] = {"samples": sum(p["split"] == split for p in plans), "shards": len(paths)}
    if bar is not None:
        bar.close()
    summary = {"rank": rank, "world_size": world_size, "counts": counts}
    if rank == 0:
        manifest = {"config": asdict(cfg), "base": getattr(getattr(backend, "config", None), "pretrained", None),
                    "world_size": world_size}
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return summary


# ============================================================================ reading
def replay_shards(root: str | Path, split: str) -> list[Path]:
    paths = sorted(Path(root, split).glob("*.tar"))
    if not paths:
        raise DataLayoutError(f"no replay shards in {Path(root, split)} (expected *.tar written by write_replay_shards)")
    return paths


def decode_sample(raw: dict[str, Any], size: int | None = None) -> dict[str, Any]:
    """A raw replay sample -> ``{"cond", "target", "prompt", "task", "spec", "meta"}`` (mixture format)."""
    if "target.png" not in raw or "json" not in raw:
        raise DataLayoutError(f"replay sample {raw.get('__key__')!r} lacks target.png/json")
    meta = json.loads(raw["json"])
    target = _unpng(raw["target.png"])
    cond = _unpng(raw["cond.png"]) if "cond.png" in raw else None
    if size is not None and target.shape[0] != size:
        target = _resize(target, size)
        cond = None if cond is None else _resize(cond, size)
    prompt = meta["instruction"] if meta["task"] == "edit" else meta["prompt"]
    return {"cond": cond, "target": target, "prompt": prompt, "task": meta["task"], "spec": {}, "meta": meta}


def _resize(rgb: np.ndarray, size: int) -> np.ndarray:
    return np.array(Image.fromarray(rgb).resize((size, size), Image.BICUBIC))


def iter_samples(paths: list[Path], size: int | None = None) -> Iterator[dict[str, Any]]:
    # shards are dealt to ranks and workers by the caller: no splitting inside WebDataset
    keep_all = lambda src: src
    for raw in wds.WebDataset([str(p) for p in paths], shardshuffle=False, empty_check=False,
                              nodesplitter=keep_all, workersplitter=keep_all):
        yield decode_sample(raw, size)


class ReplayDataset(IterableDataset):
    """Endless replay stream of one rank: shards dealt to ``(rank, worker)`` pairs, reshuffled per epoch.

    Args:
        root: directory written by :func:`write_replay_shards`; split: ``"train"`` or ``"val"``.
        size: resize images to ``size x size`` (None keeps them).
        seed, rank, world_size: as the training mixture's.
    """

    def __init__(self, root: str | Path, *, split: str = "train", size: int | None = None, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.paths = replay_shards(root, split)
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        w, n = (info.id, info.num_workers) if info else (0, 1)
        slots, slot = self.world_size * n, self.rank * n + w
        epoch = 0
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.paths))
            # fewer shards than readers: every reader reads all shards, starting at its own offset
            mine = ([self.paths[k] for k in order[slot::slots]] if len(self.paths) >= slots
                    else [self.paths[k] for k in np.roll(order, -slot)])
            yield from iter_samples(mine, self.size)
            epoch += 1


# ============================================================================ drift
@torch.no_grad()
def _measure(backend: Any, samples: list[dict[str, Any]], batch_size: int, seed: int) -> dict[str, float]:
    dev = backend.device
    losses, l1s, mses = [], [], []
    gen = torch.Generator().manual_seed(seed)
    for k in range(0, len(samples), batch_size):
        chunk = samples[k : k + batch_size]
        batch = collate(chunk)
        losses.append(backend.training_loss(batch.to(dev), gen).item() * len(chunk))
        for s in chunk:  # regenerate exactly as write_replay_shards did
            m, res = s["meta"], s["target"].shape[0]
            cond = None if s["cond"] is None else to_float(s["cond"][None]).to(dev)
            prompt = m["instruction"] if m["task"] == "edit" else m["prompt"]
            seed_ = m["edit_seed"] if m["task"] == "edit" else m["seed"]
            img = backend.sample(cond, [prompt], height=res, width=res, num_inference_steps=m["steps"],
                                 noise=seeded_noise(backend, [seed_], res))
            diff = (to_float(to_uint8(img)) - to_float(s["target"][None])) / 2  # [0, 1] units
            l1s.append(diff.abs().mean().item())
            mses.append((diff**2).mean().item())
    n = len(samples)
    mse = float(np.mean(mses))
    return {"fm_loss": float(sum(losses) / n), "pixel_l1": float(np.mean(l1s)),
            "psnr_db": None if mse == 0 else 10 * math.log10(1.0 / mse), "samples": n}  # None: identical


def generation_drift(backend: Any, replay_dir: str | Path, *, base: Any | None = None, max_samples: int = 32,
                     batch_size: int = 4, seed: int = 0) -> dict[str, Any]:
    """How far ``backend``'s generation has moved from the base model's, on held-out replay samples.

    Args:
        backend: the tuned :class:`~openbanana.backends.flux2_klein.Flux2KleinBackend`.
        replay_dir: directory written by :func:`write_replay_shards` (its ``val/`` split is used).
        base: the base backend for the "before" numbers; default: ``backend`` with its LoRA
            adapters off (for a full fine-tune pass the base explicitly, or get "after" only).
        max_samples: held-out samples used; batch_size: samples per loss call; seed: loss noise.

    Returns:
        ``{"after": {...}, "before": {...} or None, "delta": {...} or None}`` with ``fm_loss``
        (mean flow-matching loss), ``pixel_l1`` (mean |regenerated - stored| in [0, 1] units) and
        ``psnr_db`` of the fixed-seed regenerations against the stored base outputs (None when
        they are identical, i.e. infinite).
    """
    samples = []
    for s in iter_samples(replay_shards(replay_dir, "val")):
        samples.append(s)
        if len(samples) >= max_samples:
            break
    after = _measure(backend, samples, batch_size, seed)
    before = None
    if base is not None:
        before = _measure(base, samples, batch_size, seed)
    elif getattr(backend, "has_lora", False):
        with backend.adapters_disabled():
            before = _measure(backend, samples, batch_size, seed)
    delta = None
    if before is not None:
        delta = {k: None if after[k] is None or before[k] is None else after[k] - before[k]
                 for k in ("fm_loss", "pixel_l1", "psnr_db")}
    return {"after": after, "before": before, "delta": delta}
