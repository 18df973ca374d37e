"""CLI throughput and demo latency, each as a ratio to the bare pipeline measured in the same run.

    python benchmarks/bench_cli.py                       # shipped model if present, else a tiny random one
    python benchmarks/bench_cli.py --model runs/x/pipeline --n 100 --size 256 --task depth
    python benchmarks/bench_cli.py --random --n 20       # quick check on CPU

What is timed (wall clock, after one warm-up prediction):

1. ``bare``: ``for path in folder: pipe.predict(load_image(path), task=T)`` (the reference);
2. ``cli bs=1`` / ``cli bs=B``: ``openbanana predict FOLDER --task T --out DIR --batch-size ...``,
   in-process through ``openbanana.cli.main`` (model loading from disk included; every file of
   ``write_prediction`` written: PNGs, 16-bit PNGs, .npy, PLY, JSON);
Each of 1-2 is run ``--repeat`` times, interleaved, and the fastest run kept (one warm-up CLI call
first, so imports are not timed).

3. ``demo``: sequential ``/predict`` requests to the Gradio app over HTTP (``gradio_client``, an
   upload each), per request, against ``pipe.predict`` on the same image.

The folder holds ``--n`` PNGs: the bundled examples resized to ``--size`` and cycled.
Ratios > 1 are the surface's overhead over the model itself.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _pipeline(args: argparse.Namespace, tmp: Path) -> Path:
    """A pipeline directory: --model, else the shipped default, else a tiny random one."""
    from openbanana.pipeline import DEFAULT_MODEL_DIR

    if args.model:
        return Path(args.model)
    if not args.random and (DEFAULT_MODEL_DIR / "pipeline.json").is_file():
        return DEFAULT_MODEL_DIR
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from surfaces_helpers import build_tiny_pipeline_dir

    return build_tiny_pipeline_dir(tmp / "tiny")


def _folder(n: int, size: int, out: Path) -> list[Path]:
    from openbanana.server.app import example_images

    sources = [Image.open(p).convert("RGB").resize((size, size)) for p in example_images()]
    if not sources:
        sources = [
            Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))
        ]
    out.mkdir(parents=True)
    paths = []
    for i in range(n):
        p = out / f"img_{i:04d}.png"
        sources[i % len(sources)].save(p)
        paths.append(p)
    return paths


def _cli(argv: list[str]) -> float:
    from openbanana.cli import main

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"CLI failed with exit code {exc.code}") from None
    return time.perf_counter() - t0


def _demo_latency(pipe, image_path: Path, requests: int) -> tuple[list[float], list[float]]:
    from gradio_client import Client, handle_file

    from openbanana.io import load_image
    from openbanana.server import app as server_app

    app = server_app.build_app(pipe)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server_app.launch(app, port=port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(handle_file(str(image_path)), "depth", "", 0, 0, api_name="/predict")  # warm-up
        http, bare = [], []
        for _ in range(requests):
            t0 = time.perf_counter()
            client.predict(handle_file(str(image_path)), "depth", "", 0, 0, api_name="/predict")
            http.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pipe.predict(load_image(image_path), task="depth")
            bare.append(time.perf_counter() - t0)
        return http, bare
    finally:
        app.close()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="pipeline folder (default: shipped model)")
    ap.add_argument("--random", action="store_true", help="use a tiny random pipeline even if a model ships")
    ap.add_argument("--n", type=int, default=100, help="images in the folder")
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--task", default="depth")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--requests", type=int, default=20, help="demo requests timed")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved repetitions; the best is kept")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from openbanana.io import load_image
    from openbanana.pipeline import OpenBananaPipeline

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = _pipeline(args, tmp)
        paths = _folder(args.n, args.size, tmp / "in")
        pipe = OpenBananaPipeline.from_pretrained(model, device=args.device)
        pipe.predict(load_image(paths[0]), task=args.task)  # warm-up

        common = [
            "predict",
            str(tmp / "in"),
            "--task",
            args.task,
            "--model",
            str(model),
            "--device",
            args.device,
        ]
        _cli([*common[:1], str(paths[0]), *common[2:], "--out", str(tmp / "w")])
        bare = cli1 = clib = float("inf")
        for r in range(args.repeat):  # interleaved, best of --repeat: the machine may be shared
            t0 = time.perf_counter()
            for p in paths:
                pipe.predict(load_image(p), task=args.task)
            bare = min(bare, time.perf_counter() - t0)
            cli1 = min(cli1, _cli([*common, "--out", str(tmp / f"out1_{r}"), "--batch-size", "1"]))
            clib = min(
                clib, _cli([*common, "--out", str(tmp / f"outb_{r}"), "--batch-size", str(args.batch_size)])
            )
        http, bare_req = _demo_latency(pipe, paths[0], args.requests)

    res = {
        "model": str(model),
        "device": args.device,
        "images": args.n,
        "size": args.size,
        "task": args.task,
        "bare_images_per_s": args.n / bare,
        "cli_bs1_images_per_s": args.n / cli1,
        f"cli_bs{args.batch_size}_images_per_s": args.n / clib,
        "cli_bs1_overhead_ratio": cli1 / bare,
        f"cli_bs{args.batch_size}_overhead_ratio": clib / bare,
        "demo_latency_median_s": statistics.median(http),
        "demo_latency_p90_s": float(np.percentile(http, 90)),
        "bare_predict_median_s": statistics.median(bare_req),
        "demo_overhead_ratio": statistics.median(http) / statistics.median(bare_req),
    }
    print(
        f"model {res['model']} on {args.device}, {args.n} images of {args.size}x{args.size}, task {args.task}"
    )
    print(f"{'bare pipe.predict loop':<28}{res['bare_images_per_s']:8.2f} img/s   (reference)")
    print(
        f"{'openbanana predict, bs=1':<28}{res['cli_bs1_images_per_s']:8.2f} img/s   "
        f"overhead x{res['cli_bs1_overhead_ratio']:.2f}"
    )
    print(
        f"{f'openbanana predict, bs={args.batch_size}':<28}{res[f'cli_bs{args.batch_size}_images_per_s']:8.2f} "
        f"img/s   overhead x{res[f'cli_bs{args.batch_size}_overhead_ratio']:.2f}"
    )
    print(
        f"{'demo /predict over HTTP':<28}{res['demo_latency_median_s'] * 1000:8.1f} ms/request (median; "
        f"p90 {res['demo_latency_p90_s'] * 1000:.1f} ms) vs bare {res['bare_predict_median_s'] * 1000:.1f} ms: "
        f"x{res['demo_overhead_ratio']:.2f}"
    )
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
