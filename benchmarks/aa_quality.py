"""Anti-aliasing quality against cost: how far 128 px renders are from the pixel-area average, for
the shipped subsample pattern and cheaper ones.

Reference: the same scene rendered at 4x the size (anti-aliased with 3 rotated-grid subsamples on
every edge pixel, whatever the pattern under test) and averaged over each 4x4 block, with the
exposure of the 128 px render, so the error is the sampling error alone.
Prints the mean absolute error (levels of 255, mean over RGB) over all pixels and over edge pixels
(where the hit part changes), the samples per scene and the render time per scene (process time).

    python benchmarks/aa_quality.py --n 40
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def patterns() -> dict:
    """name -> anti-aliasing pattern (``render.AAPattern``)."""
    from openbanana.data.synthetic.frame import AA, ROTATED_GRID, AAPattern

    return {
        "shipped: 2 across an edge, 3 where both ways": AA,
        "3 on a rotated grid everywhere (before)": AAPattern.uniform(ROTATED_GRID),
        "2 on a diagonal everywhere": AAPattern.uniform([[-0.25, -0.25], [0.25, 0.25]]),
        "2 across an edge, 2 diagonal where both ways": AAPattern(
            np.stack([AA.offsets[0, :2], AA.offsets[1, :2], np.float32([[-0.3, -0.3], [0.3, 0.3]])]), [2, 2, 2]),
        "none": AAPattern.uniform(np.zeros((0, 2))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--split", default="train")
    args = ap.parse_args()

    from openbanana.data.synthetic.frame import ROTATED_GRID, AAPattern
    from openbanana.data.synthetic.render import edge_pixels
    from openbanana.data.synthetic.render_fast import render_compiled
    from openbanana.data.synthetic.world import sample_world
    from openbanana.data.workers import prepare_data_worker

    prepare_data_worker()
    S = args.size
    reference = AAPattern.uniform(ROTATED_GRID)
    specs = [sample_world(s, args.split) for s in range(500, 500 + args.n)]
    refs, scales, edges = [], [], []
    for spec in specs:
        o = render_compiled(spec, S, S, return_aux=True)
        scales.append(o["exposure_scale"])
        edges.append(edge_pixels(o["part"]))
        big = render_compiled(spec, 4 * S, 4 * S, exposure_scale=o["exposure_scale"], aa=reference)["rgb"]
        refs.append(big.astype(np.float64).reshape(S, 4, S, 4, 3).mean((1, 3)))
    print(f"{args.n} scenes of {args.split} at {S}x{S}; reference: {4 * S} px, 4x4 box average")
    print("| pattern | error, all pixels | error, edge pixels | samples per scene | render ms |")
    print("|---|---:|---:|---:|---:|")
    for name, aa in patterns().items():
        err_all, err_edge, samples, t = [], [], [], 0.0
        for spec, ref, scale, e in zip(specs, refs, scales, edges):
            timings: dict = {}
            a = time.process_time()
            rgb = render_compiled(spec, S, S, exposure_scale=scale, aa=aa, timings=timings)["rgb"]
            t += time.process_time() - a
            d = np.abs(rgb.astype(np.float64) - ref).mean(-1)
            err_all.append(d.mean())
            err_edge.append(d[e].mean())
            samples.append(S * S + timings.get("antialias_rays", 0))
        print(f"| {name} | {np.mean(err_all):.2f} | {np.mean(err_edge):.2f} | {np.mean(samples):.0f} | "
              f"{1e3 * t / args.n:.2f} |")


if __name__ == "__main__":
    main()
