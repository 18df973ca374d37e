"""Speed and memory of the FLUX.2 [klein] 4B backend: the full-size architecture, random weights.

A model's speed and memory do not depend on its weights' values, so this needs no download: the
transformer (5 double + 20 single blocks, 24 heads of 128), the Qwen3-4B text encoder and the
FLUX.2 VAE are built with random weights directly on the GPU in bf16 (geometry sources in
:mod:`openbanana.backends.flux2_random`) and driven through :class:`Flux2KleinBackend`, the same
code that trains and samples the real model.

Measured (median of ``--repeats`` after ``--warmup`` runs, CUDA-synchronised wall clock):
  1. prompt encoding (Qwen3-4B, 512 tokens) once, then the text encoder is released (cache);
  2. latency per image at ``--resolution`` (default 1024x1024), input image as reference tokens:
     one-step depth (the deterministic mode dense tasks use), 4-step depth, 4-step text-to-image,
     and one-step depth with the reference image at half resolution; each split into
     VAE-encode / transformer / VAE-decode;
  3. training step time (forward + backward + AdamW) and peak memory for LoRA and full fine-tuning
     at a few batch sizes, gradient checkpointing on, bf16.
Prints a Markdown table with the GPU name; ``--json`` also writes the numbers.

Reference inside the run: every latency is also given as a ratio to the one-step depth latency.

Usage::

    python benchmarks/bench_flux2_klein.py                 # GPU, full size (about 3-5 minutes on an H100)
    python benchmarks/bench_flux2_klein.py --tiny          # CPU smoke test, tiny model (about a minute)
    python benchmarks/bench_flux2_klein.py --compile       # + torch.compile of the transformer (slower start)
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import openbanana
from openbanana.backends.base import Batch
from openbanana.backends.flux2_klein import Flux2KleinBackend, Flux2KleinConfig
from openbanana.backends.flux2_random import OUT_LAYERS, build_components

DEPTH_PROMPT = "Estimate the metric depth of this image and draw it with the depth colour code."
T2I_PROMPT = "A photo of a sunlit living room with a red armchair and a wooden floor."


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def bench_inference(backend: Flux2KleinBackend, res: int, args, device) -> list[dict]:
    rows = []
    g = torch.Generator(device=device)
    cond = torch.rand(1, 3, res, res, device=device) * 2 - 1
    half = torch.nn.functional.interpolate(cond, size=(res // 2, res // 2), mode="bilinear", antialias=True)
    cases = [
        ("depth, 1 step (deterministic)", cond, DEPTH_PROMPT, {"one_step": True}),
        ("depth, 4 steps", cond, DEPTH_PROMPT, {"num_inference_steps": 4}),
        ("text-to-image, 4 steps", None, T2I_PROMPT, {"num_inference_steps": 4}),
        (f"depth, 1 step, reference at {res // 2}px", half, DEPTH_PROMPT, {"one_step": True}),
    ]
    with torch.inference_mode():
        # parts of the one-step path, for the breakdown
        x0 = backend.encode_images(cond)
        embeds, txt_ids = backend.prompt_embeddings([DEPTH_PROMPT])
        zeros, one = torch.zeros_like(x0), torch.ones(1, device=device)
        t_enc = timed(lambda: backend.encode_images(cond), device, args.warmup, args.repeats)
        t_dit = timed(lambda: backend.predict_velocity(zeros, one, x0, embeds, txt_ids), device, args.warmup,
                      args.repeats)
        t_dec = timed(lambda: backend.decode_latents(x0), device, args.warmup, args.repeats)
        rgb = ((backend.decode_latents(x0)[0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8)  # [H, W, 3]
        try:  # the task codecs need matplotlib (colormaps); the timing is skipped without it
            decode = openbanana.decode
            decode("depth", rgb[:2, :2])
        except ImportError as exc:
            print(f"colour -> metres timing skipped: {exc}", flush=True)
            t_metres = None
        else:
            t_metres = timed(lambda: decode("depth", rgb), device, args.warmup, args.repeats)
        for name, c, prompt, kw in cases:
            reset_peak(device)
            def run(c=c, prompt=prompt, kw=kw):
                return backend.sample(c, [prompt], height=res, width=res, generator=g.manual_seed(0), **kw)

            t = timed(run, device, args.warmup, args.repeats)
            rows.append({"case": name, "resolution": res, "ms": 1000 * t, "peak_gib": peak_gib(device)})
    ref = rows[0]["ms"]
    for r in rows:
        r["ratio_to_1step"] = r["ms"] / ref
    rows[0]["breakdown_ms"] = {"vae_encode": 1000 * t_enc, "transformer": 1000 * t_dit, "vae_decode": 1000 * t_dec,
                               "colour_to_metres": None if t_metres is None else 1000 * t_metres}
    return rows


def bench_training(components: dict, cfg_kw: dict, mode: str, batch_sizes: list[int], res: int, args,
                   device, embeds_cache) -> list[dict]:
    rows = []
    backend = Flux2KleinBackend.from_components(components, Flux2KleinConfig(**cfg_kw, finetune=mode))
    backend.text_cache = embeds_cache
    backend.release_text_encoder()
    backend.to(device)
    if mode == "full" and backend.has_lora:
        raise RuntimeError("LoRA adapters left on the transformer before the full fine-tuning benchmark")
    params = backend.trainable_parameters()
    n_train = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=1e-5)
    for bs in batch_sizes:
        reset_peak(device)
        g = torch.Generator(device=device).manual_seed(0)
        batch = Batch(target=torch.rand(bs, 3, res, res, device=device) * 2 - 1,
                      cond=torch.rand(bs, 3, res, res, device=device) * 2 - 1,
                      has_cond=torch.ones(bs, dtype=torch.bool), prompts=[DEPTH_PROMPT] * bs, tasks=["depth"] * bs)

        def step(batch=batch, g=g) -> None:
            loss = backend.training_loss(batch, g)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        try:
            t = timed(step, device, args.warmup, args.train_repeats)
            rows.append({"mode": mode, "batch": bs, "resolution": res, "s_per_step": t, "img_per_s": bs / t,
                         "peak_gib": peak_gib(device), "trainable_m": n_train / 1e6})
        except torch.OutOfMemoryError:
            opt.zero_grad(set_to_none=True)
            rows.append({"mode": mode, "batch": bs, "resolution": res, "s_per_step": None, "img_per_s": None,
                         "peak_gib": "OOM", "trainable_m": n_train / 1e6})
            break
    opt.state.clear()  # free the optimiser states before the next mode
    if mode == "lora":
        backend.transformer.unload_lora()  # back to the plain base transformer for the next mode
    components["transformer"] = backend.transformer
    reset_peak(device)
    return rows


def fmt(x, spec: str) -> str:
    return "-" if x is None else (x if isinstance(x, str) else format(x, spec))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random model (CPU smoke test)")
    ap.add_argument("--resolution", type=int, default=None, help="inference side in px (default 1024; tiny 64)")
    ap.add_argument("--train", nargs="+", default=None, metavar="MODE:RES:BS[,BS...]",
                    help="training cases (default: lora:1024:1,2,4 lora:512:4,8 full:1024:1,2; tiny: "
                         "lora:32:1,2 full:32:1)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--train-repeats", type=int, default=3)
    ap.add_argument("--no-checkpointing", action="store_true", help="train without gradient checkpointing")
    ap.add_argument("--compile", action="store_true", help="torch.compile the transformer for inference")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)

    size = "tiny" if args.tiny else "klein-4b"
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda")
    if device.type == "cpu" and not args.tiny:
        ap.error("the full-size benchmark needs a CUDA GPU; use --tiny for a CPU smoke test")
    res = args.resolution or (64 if args.tiny else 1024)
    specs = args.train or (["lora:32:1,2", "full:32:1"] if args.tiny
                           else ["lora:1024:1,2,4", "lora:512:4,8", "full:1024:1,2"])
    try:
        cases = [(m, int(r), [int(b) for b in bs.split(",")]) for m, r, bs in (x.split(":") for x in specs)]
    except ValueError:
        ap.error(f"--train cases look like lora:1024:1,2,4, got {specs}")
    if any(m not in ("lora", "full") for m, _, _ in cases):
        ap.error(f"--train modes are lora or full, got {specs}")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    if args.tiny:
        args.repeats, args.warmup, args.train_repeats = min(args.repeats, 3), 1, 2
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    import diffusers
    import transformers

    print(f"# FLUX.2 [klein] backend benchmark: {size}, random weights, on {gpu}", flush=True)
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}",
          flush=True)

    # 1. build + prompt encoding -------------------------------------------------------------------
    t0 = time.perf_counter()
    components = build_components(size, seed=0, device=device, dtype=dtype)
    sync(device)
    t_build = time.perf_counter() - t0
    cfg_kw = {"pretrained": f"random:{size}", "bf16": not args.tiny, "text_encoder_out_layers": OUT_LAYERS[size],
                  "gradient_checkpointing": not args.no_checkpointing}
    backend = Flux2KleinBackend.from_components(components, Flux2KleinConfig(**cfg_kw, finetune="none"))
    backend.to(device)
    t_text = timed(lambda: backend._encode_prompts([DEPTH_PROMPT]), device, 1, 3)
    backend.precompute_text_embeddings([DEPTH_PROMPT, T2I_PROMPT, ""])
    cache = backend.text_cache
    backend.release_text_encoder()
    components["text_encoder"] = None
    reset_peak(device)
    print(f"built in {t_build:.1f} s; prompt encoding {1000 * t_text:.1f} ms (then cached, encoder released)",
          flush=True)

    # 2. inference -------------------------------------------------------------------------------------
    if args.compile:
        backend.transformer.compile(fullgraph=False)
    inf_rows = bench_inference(backend, res, args, device)
    backend = None
    reset_peak(device)

    # 3. training ----------------------------------------------------------------------------------------
    train_rows: list[dict] = []
    if not args.skip_train:
        for mode, train_res, sizes in cases:
            train_rows += bench_training(components, cfg_kw, mode, sizes, train_res, args, device, cache)
            print(f"trained {mode} at {train_res}px", flush=True)

    # 4. report ------------------------------------------------------------------------------------------
    mem = "peak GiB" if device.type == "cuda" else "peak GiB (CUDA only)"
    arch = "FLUX.2 [klein] 4B architecture" if size == "klein-4b" else "tiny FLUX.2 [klein] (smoke test)"
    lines = [(f"\n### {arch}, random weights, {gpu}, "
             f"{'bf16' if dtype == torch.bfloat16 else 'fp32'}\n"),
             (f"Prompt encoding (Qwen3, {cfg_kw.get('max_sequence_length', 512)} tokens): {1000 * t_text:.1f} ms "
             "(cached during training and for fixed task prompts).\n"),
             f"| inference, batch 1 | resolution | ms / image | x one-step | {mem} |", "|---|---|---|---|---|"]
    for r in inf_rows:
        lines.append(f"| {r['case']} | {r['resolution']}x{r['resolution']} | {r['ms']:.1f} | "
                     f"{r['ratio_to_1step']:.2f} | {fmt(r['peak_gib'], '.1f')} |")
    b = inf_rows[0]["breakdown_ms"]
    lines.append(f"\nOne-step depth breakdown: VAE encode {b['vae_encode']:.1f} ms, transformer "
                 f"{b['transformer']:.1f} ms, VAE decode {b['vae_decode']:.1f} ms; then colour -> metres "
                 f"(openbanana.decode on the device) {fmt(b['colour_to_metres'], '.1f')} ms.\n")
    if train_rows:
        ck = "off" if args.no_checkpointing else "on"
        lines += [(f"| training (AdamW, checkpointing {ck}) | batch | resolution | s / step | images / s | "
                  f"trainable M | {mem} |"), "|---|---|---|---|---|---|---|"]
        for r in train_rows:
            lines.append(f"| {r['mode']} | {r['batch']} | {r['resolution']}x{r['resolution']} | "
                         f"{fmt(r['s_per_step'], '.3f')} | {fmt(r['img_per_s'], '.2f')} | "
                         f"{r['trainable_m']:.1f} | {fmt(r['peak_gib'], '.1f')} |")
    print("\n".join(lines), flush=True)
    result = {"gpu": gpu, "size": size, "torch": torch.__version__, "diffusers": diffusers.__version__,
              "transformers": transformers.__version__, "build_s": t_build, "prompt_encoding_ms": 1000 * t_text,
              "inference": inf_rows, "training": train_rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
