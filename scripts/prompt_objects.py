"""Are the prompt's place and objects recognisable in a model's text-to-image samples? A judge reads them.

The judge (:mod:`openbanana.evaluation.prompt_judge`, a small CNN trained on renders of the
synthetic world's train split) says which place and which objects a picture shows. For val scenes
the script asks it about three sets of pictures, each against the scene's own caption:

- the val renders themselves: the ceiling, what a perfect generator would score;
- the model's samples for those captions (``--steps`` Euler steps from seeded noise);
- the same samples scored against the *next* scene's caption: the floor of a generator that
  draws pictures of the world but ignores its prompt.

    python scripts/prompt_objects.py [--model DIR] [--n 64] [--steps 16] [--judge runs/judge]

The judge is trained once (``--train-scenes`` renders, ``--epochs``; ~4 min on one core) and kept in
``--judge``; a folder that already holds one is reused. Prints one JSON line per row, then a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def samples(pipe, prompts: list[str], steps: int, seed: int, batch_size: int = 8) -> np.ndarray:
    """uint8 ``[N, H, W, 3]`` text-to-image samples, batch ``b`` seeded with ``seed + b``."""
    out = []
    for b, i in enumerate(range(0, len(prompts), batch_size)):
        gen = torch.Generator().manual_seed(seed + b)
        res = pipe.generate(prompts[i:i + batch_size], num_inference_steps=steps, generator=gen)
        out += [p.generated for p in res.predictions]
    return np.stack(out)


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import model_dir
    from openbanana.evaluation.prompt_judge import (
        JudgeConfig,
        agreement,
        judge,
        load_judge,
        render_labelled,
        save_judge,
        train_judge,
    )
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=model_dir, default=None, help="exported pipeline directory (default: the shipped model)")
    ap.add_argument("--n", type=int, default=64, help="val scenes (their captions are the prompts)")
    ap.add_argument("--steps", type=int, default=16, help="Euler steps per sample")
    ap.add_argument("--seed", type=int, default=0, help="noise seed of the first batch of samples")
    ap.add_argument("--judge", type=Path, default=ROOT / "runs" / "judge", help="the judge's folder (trained there if empty)")
    ap.add_argument("--train-scenes", type=int, default=JudgeConfig.train_scenes, help="a new judge's training renders")
    ap.add_argument("--epochs", type=int, default=JudgeConfig.epochs, help="a new judge's epochs")
    args = ap.parse_args(argv)
    if args.n < 2 or args.steps < 1:
        ap.error("--n must be >= 2 (the floor pairs each sample with another scene's prompt), --steps >= 1")

    pipe = load_model(args.model)
    if (args.judge / "judge.json").is_file():
        net = load_judge(args.judge)
        print(f"judge: {args.judge}", file=sys.stderr)
    else:
        try:
            cfg = JudgeConfig(render_size=pipe.resolution, train_scenes=args.train_scenes, epochs=args.epochs)
        except ValueError as exc:
            ap.error(str(exc))
        net = train_judge(cfg, progress=True)
        save_judge(net, args.judge)
        print(f"judge trained and saved to {args.judge}", file=sys.stderr)

    renders, places, named, captions = render_labelled(range(args.n), "val", pipe.resolution, progress=True)
    drawn = samples(pipe, captions, args.steps, args.seed)
    other = np.roll(np.arange(args.n), -1)  # each sample against the next scene's caption
    rows = {
        "val renders (ceiling)": agreement(*judge(net, renders), places, named),
        "model samples": agreement(*judge(net, drawn), places, named),
        "model samples, another scene's prompt (floor)": agreement(*judge(net, drawn), places[other], named[other]),
    }
    for name, r in rows.items():
        print(json.dumps({"pictures": name, **{k: round(v, 4) for k, v in r.items()}}))
    print(f"\n| pictures ({args.n} val captions, {args.steps} steps) | place accuracy | objects named and seen "
          "(recall) | objects seen and named (precision) |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['place_accuracy']:.3f} | {r['object_recall']:.3f} | {r['object_precision']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
