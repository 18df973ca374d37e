"""Speed of the colour codecs, as ratios against references measured in the same run.

    .venv/bin/python benchmarks/bench_codecs.py [--size 1024] [--repeats 15] [--threads 1]

Prints one Markdown table: for a size x size depth image, our numpy decoder against
``hilbertmap.rgb_to_depth`` (the PyPI reference implementation of the same code, including the
uint8 -> float conversion it needs) and against a plain ``np.copy`` of the same RGB bytes (one
thread), both single-threaded and with the decoder's default threads (images of 2**18 pixels or
more are split over the usable CPUs, at most 8; ``OPENBANANA_CODEC_THREADS`` overrides); then
encode times, the normals / labels / masks / instance decoders, and the torch path on CPU and,
when available, CUDA (``torch.cuda.synchronize`` around every timing). Times are medians and
minima. To compare with an older commit's code on the same machine, run this script with that
commit's sources first on the path::

    git archive <commit> src | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/bench_codecs.py --repeats 25
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None] | None = None) -> tuple[float, float]:
    """(median, minimum) wall time of ``fn()`` in milliseconds (one warm-up call first).

    The minimum is the better estimate on a shared machine (other jobs only ever add time);
    ratios in the table use minima.
    """
    fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        if sync:
            sync()
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times), 1e3 * min(times)


def scene_depth(size: int) -> np.ndarray:
    """A tilted floor plane with a sphere in front of it (m): smooth, like a real depth map."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    depth = 1.0 + 30.0 * (1.0 - yy) ** 2 + 2.0 * xx
    r2 = (xx - 0.5) ** 2 + (yy - 0.55) ** 2
    sphere = r2 < 0.2**2
    depth[sphere] = 2.0 - np.sqrt(0.2**2 - r2[sphere]) * 3
    return depth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1); the numpy depth "
                    "decoder's own threads follow OPENBANANA_CODEC_THREADS (default: usable CPUs, at most 8)")
    args = ap.parse_args()

    import hilbertmap
    import torch

    from openbanana.tasks.codecs import (
        decode_depth,
        decode_instances,
        decode_labels,
        decode_masks,
        decode_normals,
        encode_depth,
        encode_instances,
        encode_labels,
        encode_normals,
        instance_colors,
    )
    from openbanana.tasks.codecs import depth as D

    torch.set_num_threads(args.threads)
    n, r = args.size, args.repeats
    rows: list[tuple[str, tuple[float, float], str]] = []

    t = time.perf_counter()
    D.depth_lut()
    rows.append(("depth lookup table build (once per process)", (1e3 * (time.perf_counter() - t),) * 2, ""))

    depth = scene_depth(n)
    rgb = encode_depth(depth)
    rand = np.random.default_rng(0).integers(0, 256, rgb.shape).astype(np.uint8)
    noisy = np.clip(rgb + np.random.default_rng(1).normal(0, 3, rgb.shape), 0, 255).round().astype(np.uint8)

    t_copy = timed(lambda: np.copy(rgb), r)
    # older sources (before the threaded decoder) have no threads argument: time them as 1 thread
    threaded = hasattr(D, "decode_threads")
    nt = D.decode_threads() if threaded else 1
    t_one = timed(lambda: decode_depth(rgb, threads=1) if threaded else decode_depth(rgb), r)
    t_ours = timed(lambda: decode_depth(rgb), r)
    t_noisy = timed(lambda: decode_depth(noisy), r)
    t_rand = timed(lambda: decode_depth(rand), r)
    t_hm = timed(lambda: hilbertmap.rgb_to_depth(rgb / 255.0), max(1, min(3, r)))
    assert np.allclose(decode_depth(rgb), hilbertmap.rgb_to_depth(rgb / 255.0), rtol=1e-5)
    rows += [
        (f"np.copy of the {n}x{n}x3 uint8 RGB (reference)", t_copy, "1.0x memcpy"),
        (f"decode_depth numpy (lookup table), {n}x{n} scene, 1 thread", t_one,
         f"{t_one[1] / t_copy[1]:.1f}x memcpy, {t_hm[1] / t_one[1]:.0f}x faster than hilbertmap"),
        (f"decode_depth numpy (lookup table), {n}x{n} scene, default {nt} thread(s)", t_ours,
         f"{t_ours[1] / t_copy[1]:.1f}x memcpy, {t_hm[1] / t_ours[1]:.0f}x faster than hilbertmap"),
        (f"decode_depth numpy, {n}x{n} scene + sigma-3 noise, {nt} thread(s)", t_noisy,
         f"{t_noisy[1] / t_copy[1]:.1f}x memcpy"),
        (f"decode_depth numpy, {n}x{n} uniform random colours (worst case), {nt} thread(s)", t_rand,
         f"{t_rand[1] / t_copy[1]:.1f}x memcpy"),
        (f"hilbertmap.rgb_to_depth(rgb / 255), {n}x{n} (reference)", t_hm, "1.0x hilbertmap"),
    ]
    t_enc = timed(lambda: encode_depth(depth), r)
    t_hm_enc = timed(lambda: hilbertmap.depth_to_rgb(depth), max(1, min(3, r)))
    rows += [
        (f"encode_depth numpy, {n}x{n}", t_enc, f"{t_hm_enc[1] / t_enc[1]:.1f}x faster than hilbertmap.depth_to_rgb"),
    ]

    normals = np.random.default_rng(2).normal(size=(n, n, 3))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    nrgb = encode_normals(normals)
    rows.append((f"encode_normals numpy, {n}x{n}", timed(lambda: encode_normals(normals), r), ""))
    rows.append((f"decode_normals numpy, {n}x{n}", timed(lambda: decode_normals(nrgb), r), ""))
    pal = instance_colors(19, seed=3)
    labels = np.random.default_rng(4).integers(0, 19, (n, n))
    lrgb = encode_labels(labels, pal)
    rows.append((f"decode_labels numpy, {n}x{n}, 19 classes", timed(lambda: decode_labels(lrgb, pal), r), ""))
    small = np.random.default_rng(6).integers(0, 19, (128, 128))
    snoisy = np.clip(encode_labels(small, pal) + np.random.default_rng(7).normal(0, 8, (128, 128, 3)), 0, 255)
    snoisy = snoisy.round().astype(np.uint8)
    rows.append(("decode_labels numpy, 128x128, 19 classes + sigma-8 noise",
                 timed(lambda: decode_labels(snoisy, pal), r), ""))
    masks = np.zeros((2, n, n), bool)
    masks[0, : n // 2] = True
    masks[1, n // 3 :, n // 3 :] = True
    from openbanana.tasks.codecs import encode_masks

    mrgb = encode_masks(masks, pal[:2])
    rows.append((f"decode_masks numpy, {n}x{n}, 2 targets", timed(lambda: decode_masks(mrgb, pal[:2]), r), ""))
    ids = np.zeros((512, 512), np.int64)
    rng = np.random.default_rng(5)
    for i in range(1, 31):
        y, x = rng.integers(0, 450, 2)
        ids[y : y + rng.integers(15, 60), x : x + rng.integers(15, 60)] = i
    irgb = encode_instances(ids)
    inoisy = np.clip(irgb + rng.normal(0, 3, irgb.shape), 0, 255).round().astype(np.uint8)
    rows.append(("decode_instances, 512x512, 30 rectangles", timed(lambda: decode_instances(irgb), max(3, r // 3)), ""))
    rows.append(("decode_instances, 512x512, 30 rectangles + sigma-3 noise",
                 timed(lambda: decode_instances(inoisy), max(3, r // 3)), ""))

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        sync = torch.cuda.synchronize if dev == "cuda" else None
        rgb_t = torch.from_numpy(rgb).to(dev)
        depth_t = torch.from_numpy(depth).to(dev)
        nrgb_t = torch.from_numpy(nrgb).to(dev)
        lrgb_t = torch.from_numpy(lrgb).to(dev)
        t_copy_t = timed(lambda rgb_t=rgb_t: rgb_t.clone(), r, sync)
        t_dec_t = timed(lambda rgb_t=rgb_t: decode_depth(rgb_t), r, sync)
        t_ops_t = timed(lambda rgb_t=rgb_t: D.decode_depth_torch(rgb_t), max(3, r // 3), sync)
        label = f"torch {dev}" + (f" ({args.threads} thread)" if dev == "cpu" else f" ({torch.cuda.get_device_name()})")
        rows += [
            (f"{label}: clone of the RGB tensor (reference)", t_copy_t, "1.0x memcpy"),
            (f"{label}: decode_depth", t_dec_t, (f"{t_dec_t[1] / t_copy_t[1]:.1f}x its memcpy, "
             f"{t_hm[1] / t_dec_t[1]:.0f}x faster than hilbertmap")),
            (f"{label}: decode_depth_torch (tensor ops, no table)", t_ops_t,
             f"{t_ops_t[1] / t_copy_t[1]:.1f}x its memcpy, {t_hm[1] / t_ops_t[1]:.0f}x faster than hilbertmap"),
            (f"{label}: encode_depth", timed(lambda depth_t=depth_t: encode_depth(depth_t), r, sync), ""),
            (f"{label}: decode_normals", timed(lambda nrgb_t=nrgb_t: decode_normals(nrgb_t), r, sync), ""),
            (f"{label}: decode_labels (19 classes)",
             timed(lambda lrgb_t=lrgb_t: decode_labels(lrgb_t, pal), max(3, r // 3), sync), ""),
        ]

    print(f"colour codecs, {n}x{n} images, {r} runs each, torch {torch.__version__}, numpy {np.__version__}; "
          "ratios from the minimum times\n")
    print("| what | median (ms) | min (ms) | ratio |")
    print("|---|---:|---:|---|")
    for what, (med, best), ratio in rows:
        print(f"| {what} | {med:.2f} | {best:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
