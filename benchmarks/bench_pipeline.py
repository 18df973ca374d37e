"""Predictions per second of the pipeline at 1 step and at N steps, and the data mixture's rate,
each beside a reference measured in the same run.

    python benchmarks/bench_pipeline.py                        # shipped model if present, else tiny-xs random
    python benchmarks/bench_pipeline.py --model runs/gpu --device cuda --batch 16 --steps 16
    python benchmarks/bench_pipeline.py --size tiny-m --resolution 128 --device cuda   # random weights

What is timed (wall clock, best of ``--repeat`` runs after a warm-up):

1. ``backend one-step``: ``backend.sample(cond, prompts, one_step=True)`` on a ready batch (the
   reference: the network alone);
2. ``pipeline 1 step``: ``pipe(images, task="depth", mirror=False)`` on the same batch of uint8
   images at the input size (loading, resizing, decoding and resizing back included), and
   ``pipeline 1 step + mirror`` the same with the test-time mirror (``mirror=True``);
3. ``backend N steps`` and ``pipeline N steps``: the same with ``one_step=False`` and
   ``num_inference_steps=N`` (``task="edit"``, no decoding);
4. ``mixture``: samples per second of ``openbanana.data.mixture`` (vision share 0.5) in this one
   process, against ``pipeline 1 step`` predictions per second.

Printed: predictions per second and the ratio of each pipeline row to its backend row (> 1 is the
pipeline's overhead).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def _best(fn, repeat: int) -> float:
    fn()  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times)


def _pipeline(args: argparse.Namespace):
    from openbanana.backends.tiny import TinyBackend, TinyConfig
    from openbanana.pipeline import DEFAULT_MODEL_DIR, OpenBananaPipeline
    from openbanana.pipeline_config import PipelineConfig

    if args.model:
        return OpenBananaPipeline.from_pretrained(args.model, device=args.device)
    if args.size is None and (DEFAULT_MODEL_DIR / "pipeline.json").is_file():
        return OpenBananaPipeline.from_pretrained(DEFAULT_MODEL_DIR, device=args.device)
    torch.manual_seed(0)
    backend = TinyBackend(TinyConfig.from_dict({"size": args.size or "tiny-xs"})).to(args.device)
    return OpenBananaPipeline(backend, PipelineConfig(backend="tiny", resolution=args.resolution))


def main(argv: list[str] | None = None) -> dict:
    from openbanana.data.mixture import MixtureConfig, make_sample
    from openbanana.data.synthetic import render_scene
    from openbanana.pipeline_ops import to_model_tensor

    ap = argparse.ArgumentParser(description="pipeline predictions per second vs the bare backend")
    ap.add_argument("--model", type=Path, default=None, help="pipeline directory")
    ap.add_argument("--size", default=None, help="random tiny model of this size (tiny-xs, tiny-s, tiny-m)")
    ap.add_argument("--resolution", type=int, default=64, help="model resolution for a random model")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--input", type=int, nargs=2, default=(240, 320), metavar=("H", "W"), help="input image size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mixture-samples", type=int, default=32)
    args = ap.parse_args(argv)

    pipe = _pipeline(args)
    S, B = pipe.resolution, args.batch
    scene = render_scene(0, split="val", size=tuple(args.input))
    images = [scene.rgb] * B
    frames = [np.asarray(torch.nn.functional.interpolate(
        torch.from_numpy(scene.rgb).permute(2, 0, 1)[None].float(), size=(S, S)).round().byte()[0].permute(1, 2, 0))] * B
    cond = to_model_tensor(frames).to(pipe.device)
    prompts_d, prompts_e = ["Estimate the metric depth of this image."] * B, ["make the sofa red"] * B
    g = torch.Generator().manual_seed(0)

    rows = {
        "backend one-step": _best(lambda: pipe.backend.sample(cond, prompts_d, height=S, width=S, one_step=True),
                                  args.repeat),
        "pipeline 1 step": _best(lambda: pipe(images, task="depth", batch_size=B, mirror=False), args.repeat),
        "pipeline 1 step + mirror": _best(lambda: pipe(images, task="depth", batch_size=B, mirror=True),
                                          args.repeat),
        f"backend {args.steps} steps": _best(lambda: pipe.backend.sample(
            cond, prompts_e, height=S, width=S, num_inference_steps=args.steps, generator=g), args.repeat),
        f"pipeline {args.steps} steps": _best(lambda: pipe(images, "make the sofa red", task="edit", batch_size=B,
                                                           num_inference_steps=args.steps, generator=g), args.repeat),
    }
    mix = MixtureConfig(vision_share=0.5, size=S)
    n_mix = args.mixture_samples
    t_mix = _best(lambda: [make_sample(mix, 0, i) for i in range(n_mix)], 1)

    print(f"device {pipe.device}, model {S}x{S}, input {args.input[0]}x{args.input[1]}, batch {B}, "
          f"torch threads {torch.get_num_threads()}")
    out = {}
    for name, t in rows.items():
        out[name] = B / t
        print(f"  {name:<22} {B / t:9.2f} predictions/s")
    r1 = rows["pipeline 1 step"] / rows["backend one-step"]
    rn = rows[f"pipeline {args.steps} steps"] / rows[f"backend {args.steps} steps"]
    rm = rows["pipeline 1 step + mirror"] / rows["pipeline 1 step"]
    print(f"  pipeline / backend time, 1 step: {r1:.2f}x; {args.steps} steps: {rn:.2f}x; "
          f"1 step with / without the mirror: {rm:.2f}x ({1000 * rows['pipeline 1 step + mirror'] / B:.1f} ms "
          "per prediction)")
    print(f"  mixture (1 process, vision share 0.5): {n_mix / t_mix:.1f} samples/s = "
          f"{(n_mix / t_mix) / out['pipeline 1 step']:.2f}x the 1-step prediction rate")
    out.update({"ratio_1_step": r1, "ratio_n_steps": rn, "ratio_mirror": rm, "mixture_samples_per_s": n_mix / t_mix})
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
