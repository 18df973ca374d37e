"""`openbanana data`: write synthetic data sets as WebDataset shards, and preview the world."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openbanana.data.shards import scene_to_sample, write_shards
from openbanana.data.synthetic import SPLITS, render_scene
from openbanana.data.synthetic.gpu import resolve_intersector, stream_batches
from openbanana.data.synthetic.preview import write_preview
from openbanana.data.workers import prepare_data_worker

data_app = typer.Typer(help="Synthetic data: write shards, preview the world.", no_args_is_help=True)


def _render_sample(args):
    seed, split, size = args
    return scene_to_sample(render_scene(seed, split=split, size=size))


@data_app.command("synth")
def synth(
    out: str = typer.Option(..., "--out", help="Output directory for the .tar shards."),
    split: str = typer.Option("train", help="train | val | shift"),
    n: int = typer.Option(1000, "--n", help="Number of scenes."),
    size: int = typer.Option(128, help="Image side in pixels (square)."),
    start: int = typer.Option(0, help="First seed; scenes are seeds start .. start+n-1."),
    shard_size: int = typer.Option(1000, help="Samples per shard."),
    workers: int = typer.Option(0, help="Processes (0 = all cores)."),
    device: str = typer.Option("cpu", help="cpu, or a torch device such as cuda for the batched GPU renderer "
                                           "(scene sampling, language and encoding stay on the cores)."),
    renderer: str = typer.Option("auto", help="auto (embree on cpu, batched otherwise) | embree | batched."),
    batch: int = typer.Option(64, help="Scenes per batch of the batched renderer."),
    intersector: str = typer.Option("auto", help="Ray caster of the batched renderer: auto | warp (BVH) | brute."),
) -> None:
    """Render N scenes of a split into WebDataset shards (all cores, with a progress bar)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
    if n <= 0 or size < 8 or start < 0 or shard_size <= 0 or batch <= 0:
        raise ValueError(f"need n > 0, size >= 8, start >= 0, shard_size > 0, batch > 0; got n={n}, size={size}, "
                         f"start={start}, shard_size={shard_size}, batch={batch}")
    if renderer == "auto":
        renderer = "embree" if device == "cpu" else "batched"
    if renderer not in ("embree", "batched"):
        raise ValueError(f"unknown renderer {renderer!r}; expected auto, embree or batched")
    if renderer == "embree" and device != "cpu":
        raise ValueError(f"the embree renderer runs on the CPU; for device {device!r} use --renderer batched")
    if renderer == "batched":
        _check_torch_device(device)
        intersector = resolve_intersector(intersector)
    workers = workers or os.cpu_count() or 1
    ctx = mp.get_context("spawn" if os.name != "posix" else "fork")
    jobs = [(s, split, size) for s in range(start, start + n)]
    with Progress(TextColumn("[bold]synth {task.fields[split]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn()) as bar:
        task = bar.add_task("synth", total=n, split=split, rate="")
        t0 = time.perf_counter()

        def tick():
            bar.advance(task)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(time.perf_counter() - t0, 1e-9):.0f} scenes/s")

        if renderer == "batched":
            with ctx.Pool(workers, prepare_data_worker, (os.getpid(),)) as pool:
                batches = stream_batches(range(start, start + n), batch=batch, pool=pool, split=split,
                                         post=scene_to_sample, size=size, device=device, intersector=intersector)
                samples = (sample for b in batches for sample in b)
                paths = write_shards(samples, out, shard_size=shard_size, prefix=f"synth-{split}", progress=tick)
        elif workers == 1:
            prepare_data_worker()
            samples = map(_render_sample, jobs)
            paths = write_shards(samples, out, shard_size=shard_size, prefix=f"synth-{split}", progress=tick)
        else:
            with ctx.Pool(workers, prepare_data_worker, (os.getpid(),)) as pool:
                samples = pool.imap(_render_sample, jobs, chunksize=8)
                paths = write_shards(samples, out, shard_size=shard_size, prefix=f"synth-{split}", progress=tick)
    typer.echo(f"wrote {n} scenes in {len(paths)} shards to {out}")


def _check_torch_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu")


@data_app.command("preview")
def preview(
    out: str = typer.Option("synthetic-sheet.png", "--out", help="PNG path of the contact sheet."),
    per_split: int = typer.Option(3, help="Scenes per split."),
    size: int = typer.Option(128, help="Tile side in pixels."),
) -> None:
    """Write a contact sheet: RGB, depth, normals, semantic, instance, a referring mask per scene."""
    if per_split <= 0 or size < 16:
        raise ValueError(f"need per_split > 0 and size >= 16, got {per_split}, {size}")
    write_preview(out, per_split=per_split, size=size)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add `openbanana data ...` to the root app."""
    app.add_typer(data_app, name="data")
