"""Command line for FLUX.2 [klein] model folders (``openbanana flux2 pipeline`` / ``merge`` run the same).

    # the untuned base as an openbanana pipeline (zero-shot baseline for `openbanana eval`)
    python -m openbanana.cli.flux2_models pipeline --model black-forest-labs/FLUX.2-klein-4B --out runs/klein-base
    # fold a trained LoRA into a standalone diffusers Flux2KleinPipeline folder (bf16 safetensors)
    python -m openbanana.cli.flux2_models merge --model runs/flux2-lora/backend --out runs/klein-merged
    # ... and wrap that as a pipeline folder for `openbanana predict/eval --model`
    python -m openbanana.cli.flux2_models pipeline --model runs/klein-merged --out runs/klein-merged-pipe
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from openbanana.backends.flux2_klein import CONFIG_NAME, Flux2KleinBackend, write_pipeline_dir


def main(argv: list[str] | None = None) -> None:
    """``python -m openbanana.cli.flux2_models {pipeline,merge} ...`` (see docs/frontier.md)."""
    ap = argparse.ArgumentParser(prog="python -m openbanana.cli.flux2_models")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pipeline", help="wrap a base / LoRA / full / merged model as an openbanana pipeline folder")
    p.add_argument("--model", required=True, help="hub id or diffusers folder (base), or a backend folder")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--resolution", type=int, default=1024)
    m = sub.add_parser("merge", help="fold a LoRA backend into a standalone diffusers Flux2KleinPipeline folder")
    m.add_argument("--model", required=True, help="backend folder with pytorch_lora_weights.safetensors")
    m.add_argument("--out", required=True, type=Path)
    for q in (p, m):
        q.add_argument("--backend-config", default=None, help="Flux2KleinConfig fields as inline JSON or a file")
    args = ap.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.backend_config:
        text = args.backend_config
        overrides = json.loads(Path(text).read_text() if Path(text).is_file() else text)
    local = Path(args.model)
    if args.cmd == "pipeline" and not (local.is_dir() and (local / CONFIG_NAME).is_file()):
        overrides.setdefault("finetune", "none")  # an untuned base: nothing to train or save
    backend = Flux2KleinBackend.from_pretrained(args.model, **overrides)
    if args.cmd == "pipeline":
        print(write_pipeline_dir(backend, args.out, resolution=args.resolution))
    else:
        backend.save_merged(args.out, dtype=torch.bfloat16 if backend.config.bf16 else None)
        print(args.out)


if __name__ == "__main__":
    main()
