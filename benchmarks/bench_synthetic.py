"""Speed of the synthetic world against the speed of training on its images.

CPU (default): renders scenes at --size and reports scenes/s per core from process CPU time
(other processes do not count), the fastest of --repeat passes over the same scenes (a busy host
still slows a pass down; every pass's rate is printed), the split of that time into world
sampling / rendering / language, the compiled engine's render stages with ray counts, with
--compare the numpy reference engine's rate in the same run, and the multi-core wall-clock rate
with --workers. The reference printed beside it is the default model's training images/s at the same size, measured in the same
run (``benchmarks/train_speed.py``: the loop's step on random weights of the shipped model's
architecture; on the GPU with --gpu, else on one CPU thread).

GPU (--gpu): renders batches with the torch renderer (``stream_batches``: scene sampling and
language on a process pool, overlapped with the device) and prints scenes/s beside the CPU per-core
rate measured in the same run, and the stage split of one batch; ``--intersector`` picks Warp's BVH
or the brute-force test. ``--device cpu`` runs the same path on the CPU (a functional check).

    python benchmarks/bench_synthetic.py --n 200 --size 128 --compare
    python benchmarks/bench_synthetic.py --gpu --size 128 --batch 64 --n 512 [--intersector brute]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time


def cpu_per_core(n: int, size: int, split: str, start: int = 10_000, engine: str = "auto", repeat: int = 1) -> dict:
    """Per-core rate from process time, split into world sampling / rendering / language, and for
    the compiled engine the render split into stages with their ray counts. With ``repeat`` > 1 the
    same n scenes are made that many times and the fastest repeat is reported (timeit's
    convention: a busy host only ever slows a repeat down); ``repeats`` lists every repeat's rate."""
    from openbanana.data.synthetic import render_scene
    from openbanana.data.synthetic.render import compiled_available, render_spec
    from openbanana.data.synthetic.splits import clear_caches
    from openbanana.data.synthetic.world import sample_world

    if engine == "auto":
        engine = "compiled" if compiled_available() else "numpy"
    render_scene(0, size=size)  # warm caches (templates, image bank, Embree device, compiled kernels)
    render_spec(sample_world(1, split), size, size, engine=engine)
    runs = []
    for _ in range(max(1, repeat)):
        clear_caches()  # no repeat profits from the one before
        runs.append(_make_scenes(range(start, start + n), size, split, engine))
    best = max(runs, key=lambda r: r["scenes_per_core_s"])
    return {**best, "engine": engine, "repeats": [r["scenes_per_core_s"] for r in runs]}


def _make_scenes(seeds, size: int, split: str, engine: str) -> dict:
    from openbanana.data.synthetic.generate import finish_scene
    from openbanana.data.synthetic.render import render_spec
    from openbanana.data.synthetic.render_fast import render_compiled
    from openbanana.data.synthetic.scene import Scene
    from openbanana.data.synthetic.world import sample_world

    n = len(seeds)
    t_world = t_render = t_lang = 0.0
    stages: dict = {}
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    w0 = time.perf_counter()
    for s in seeds:
        a = time.process_time()
        spec = sample_world(s, split)
        b = time.process_time()
        if engine == "compiled":
            out = render_compiled(spec, size, size, timings=stages)
        else:
            out = render_spec(spec, size, size, engine=engine)
        c = time.process_time()
        sc = Scene(out["rgb"], out["depth_m"], out["normals"], out["semantic"], out["instance"], spec.objects,
                   spec.camera, spec.kind, spec.split, spec.seed, spec.room_type, spec=spec)
        finish_scene(sc)
        d = time.process_time()
        t_world, t_render, t_lang = t_world + b - a, t_render + c - b, t_lang + d - c
    wall = time.perf_counter() - w0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    cpu = t_world + t_render + t_lang
    return {"scenes_per_core_s": n / cpu, "render_per_core_s": n / t_render,
            "ms_world": 1e3 * t_world / n, "ms_render": 1e3 * t_render / n, "ms_language": 1e3 * t_lang / n,
            "wall_scenes_s": n / wall, "page_faults": faults / n, "stages": {k: v / n for k, v in stages.items()}}


def print_stages(stages: dict) -> None:
    names = [k for k in stages if not k.endswith("_rays")]
    parts = []
    for k in names:
        rays = stages.get(k + "_rays")
        extra = f" ({rays / 1e3:.1f} k rays, {rays / max(stages[k], 1e-9) / 1e6:.1f} M rays/s)" if rays else ""
        parts.append(f"{k} {1e3 * stages[k]:.2f} ms{extra}")
    print("    render stages per scene: " + "; ".join(parts))


def _one(args):
    from openbanana.data.synthetic import render_scene

    render_scene(args[0], split=args[1], size=args[2])
    return 1


def cpu_workers(n: int, size: int, split: str, workers: int) -> float:
    from openbanana.data.workers import prepare_data_worker

    with mp.get_context("fork").Pool(workers, prepare_data_worker) as pool:
        pool.map(_one, [(s, split, size) for s in range(workers)])  # warm-up
        t = time.perf_counter()
        pool.map(_one, [(s, split, size) for s in range(20_000, 20_000 + n)], chunksize=4)
        return n / (time.perf_counter() - t)


def reference_train_images_per_s(size: int, device: str) -> tuple[float, str]:
    """The default model's training images/s (random weights of its architecture, the loop's step)."""
    import torch
    from train_speed import measure_train_images_per_second

    cuda = device.startswith("cuda")
    batch = 16 if cuda else 4  # CPU: a smaller batch and the minimum of steps, same images/s, a shorter run
    ips = measure_train_images_per_second(size, batch=batch, device=device, min_s=2.0 if cuda else 0.0)
    where = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} thread(s)"
    return ips, f"default model architecture, batch {batch}, {size}x{size}, {where}"


def gpu_rate(n: int, size: int, split: str, batch: int, device: str, workers: int, intersector: str) -> dict:
    """Scenes/s of the batched torch renderer, CPU preparation and finishing overlapped with the
    device (``stream_batches``), and the wall seconds per stage of one extra timed batch."""
    import torch

    from openbanana.data.synthetic.gpu import render_batch, resolve_intersector, stream_batches

    cuda = torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    kw = {"size": size, "device": device, "intersector": intersector}
    with mp.get_context("fork").Pool(workers) as pool:
        render_batch(list(range(min(batch, 8))), split=split, pool=pool, **kw)  # compile, warm
        sync()
        t = time.perf_counter()
        done = 0
        for scenes in stream_batches(range(30_000, 30_000 + n), batch=batch, pool=pool, split=split, **kw):
            done += len(scenes)
        sync()
        rate = done / (time.perf_counter() - t)
        stages: dict = {}
        render_batch(list(range(40_000, 40_000 + batch)), split=split, pool=pool, timings=stages, **kw)
    return {"scenes_s": rate, "batch": batch, "prep_workers": workers, "intersector": resolve_intersector(intersector),
            "device": torch.cuda.get_device_name() if cuda else device, "stages": stages}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="make the same scenes this often; report the fastest")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--split", default="train")
    ap.add_argument("--workers", type=int, default=0, help="also measure a multi-process pool (0 = skip)")
    ap.add_argument("--engine", default="auto", choices=["auto", "compiled", "numpy"])
    ap.add_argument("--compare", action="store_true", help="also measure the numpy engine as a reference")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--intersector", default="auto", choices=["auto", "warp", "brute"],
                    help="batched intersector of the GPU path")
    args = ap.parse_args()
    from openbanana.data.workers import prepare_data_worker

    prepare_data_worker()  # what shard writers and DataLoader workers do (one thread, malloc keeps freed memory)
    n_cpu = args.n if not args.gpu else 30
    cpu = cpu_per_core(n_cpu, args.size, args.split, engine=args.engine, repeat=args.repeat)
    print(f"synthetic world, {args.size}x{args.size}, split {args.split}, {n_cpu} scenes")
    reps = ", ".join(f"{r:.1f}" for r in cpu["repeats"])
    print(f"  CPU per core (process time), {cpu['engine']} engine, fastest of {len(cpu['repeats'])} repeats ({reps}): "
          f"{cpu['scenes_per_core_s']:.1f} scenes/s "
          f"[world {cpu['ms_world']:.1f} ms + render {cpu['ms_render']:.1f} ms + language {cpu['ms_language']:.1f} ms"
          f" per scene; rendering alone {cpu['render_per_core_s']:.1f} scenes/s]; wall clock on this machine: "
          f"{cpu['wall_scenes_s']:.1f} scenes/s; {cpu['page_faults']:.0f} page faults per scene")
    if cpu["stages"]:
        print_stages(cpu["stages"])
    if args.compare and cpu["engine"] != "numpy":
        ref = cpu_per_core(max(10, n_cpu // 4), args.size, args.split, engine="numpy")
        print(f"  reference, numpy engine in the same run: {ref['scenes_per_core_s']:.1f} scenes/s "
              f"(render {ref['ms_render']:.1f} ms); {cpu['engine']} / numpy = "
              f"{cpu['scenes_per_core_s'] / ref['scenes_per_core_s']:.2f}x per scene, "
              f"{ref['ms_render'] / cpu['ms_render']:.2f}x for rendering")
    if args.workers:
        rate = cpu_workers(args.n, args.size, args.split, args.workers)
        print(f"  CPU pool of {args.workers} processes (wall clock): {rate:.1f} scenes/s")
    if args.gpu:
        g = gpu_rate(args.n, args.size, args.split, args.batch, args.device, max(1, (os.cpu_count() or 2) - 1),
                     args.intersector)
        print(f"  GPU ({g['device']}, {g['intersector']} intersector, batch {g['batch']}, {g['prep_workers']} CPU "
              f"prep workers): {g['scenes_s']:.1f} scenes/s = {g['scenes_s'] / cpu['scenes_per_core_s']:.1f}x one CPU core")
        per = {k: 1e3 * v / g["batch"] for k, v in g["stages"].items()}
        print("    one batch, ms per scene (wall, device synchronised per stage): "
              + "; ".join(f"{k} {v:.2f}" for k, v in per.items()))
    import torch

    train_device = "cuda" if (args.gpu and torch.cuda.is_available()) else "cpu"
    ips, what = reference_train_images_per_s(args.size, train_device)
    print(f"  training reference: {ips:.1f} images/s ({what})")
    print(f"  ratio: one CPU core renders {cpu['scenes_per_core_s'] / ips:.2f}x the images training consumes"
          + (f"; the GPU path {g['scenes_s'] / ips:.2f}x" if args.gpu else ""))

if __name__ == "__main__":
    main()
