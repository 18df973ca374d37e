"""Command line for replay data from the frozen FLUX.2 [klein] base model, and generation drift
(:mod:`openbanana.data.flux2_replay`).

One GPU, or ``accelerate launch`` / ``torchrun`` for several (each rank writes its own shards)::

    python -m openbanana.cli.flux2_replay write --model black-forest-labs/FLUX.2-klein-4B \\
        --out data/replay --num-samples 4000 --resolution 1024
    python -m openbanana.cli.flux2_replay drift --model runs/flux2/backend --replay data/replay

(``openbanana flux2 replay-write`` and ``openbanana flux2 replay-drift`` run the same.)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch

from openbanana.backends.flux2_klein import Flux2KleinBackend
from openbanana.data.flux2_replay import DEFAULT_PROMPTS, ReplayConfig, generation_drift, write_replay_shards


def main(argv: list[str] | None = None) -> None:
    """``python -m openbanana.cli.flux2_replay {write,drift} ...`` (see docs/frontier.md)."""
    ap = argparse.ArgumentParser(prog="python -m openbanana.cli.flux2_replay", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="generate replay shards with the frozen base model")
    w.add_argument("--model", required=True, help="base pipeline: local diffusers directory or hub id")
    w.add_argument("--out", required=True, type=Path)
    w.add_argument("--prompts", type=Path, default=None, help="text file, one prompt per line (default: built-in set)")
    w.add_argument("--num-samples", type=int, default=1000)
    w.add_argument("--resolution", type=int, default=1024)
    w.add_argument("--steps", type=int, default=4)
    w.add_argument("--edit-share", type=float, default=0.3)
    w.add_argument("--batch-size", type=int, default=4)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--holdout-share", type=float, default=0.05, help="share written to val/ (drift measure)")
    d = sub.add_parser("drift", help="generation drift of a tuned backend on held-out replay samples")
    d.add_argument("--model", required=True, help="tuned backend directory (or a base, for the floor)")
    d.add_argument("--replay", required=True, type=Path)
    d.add_argument("--base", default=None, help="base pipeline for 'before' (default: LoRA adapters off)")
    d.add_argument("--max-samples", type=int, default=32)
    d.add_argument("--json", type=Path, default=None)
    for p in (w, d):
        p.add_argument("--backend-config", default=None,
                       help="Flux2KleinConfig fields as inline JSON or a JSON file (e.g. '{\"bf16\": false}')")
    args = ap.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    overrides: dict[str, Any] = {}
    if args.backend_config:
        text = args.backend_config
        overrides = json.loads(Path(text).read_text() if Path(text).is_file() else text)
    if device == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if args.cmd == "write":
        prompts = DEFAULT_PROMPTS
        if args.prompts is not None:
            prompts = tuple(line.strip() for line in args.prompts.read_text().splitlines() if line.strip())
        cfg = ReplayConfig(prompts=prompts, num_samples=args.num_samples, resolution=args.resolution,
                           num_inference_steps=args.steps, edit_share=args.edit_share, batch_size=args.batch_size,
                           seed=args.seed, holdout_share=args.holdout_share)
        overrides["finetune"] = "none"
        backend = Flux2KleinBackend.from_pretrained(args.model, device=device, **overrides)
        print(json.dumps(write_replay_shards(backend, cfg, args.out, rank=rank, world_size=world)))
    else:
        backend = Flux2KleinBackend.from_pretrained(args.model, device=device, **overrides)
        base = None if args.base is None else Flux2KleinBackend.from_pretrained(
            args.base, device=device, **{**overrides, "finetune": "none"})
        result = generation_drift(backend, args.replay, base=base, max_samples=args.max_samples)
        text = json.dumps(result, indent=2)
        print(text)
        if args.json:
            args.json.write_text(text)


if __name__ == "__main__":
    main()
