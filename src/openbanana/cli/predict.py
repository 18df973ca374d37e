"""``openbanana predict``: run the model over files, folders or globs and write every output.

Usage::

    openbanana predict photo.jpg "estimate the depth" --out out/
    openbanana predict photos/ --task depth --task normals --out out/ --fov-deg 65
    openbanana predict "shots/*.png" "the sky is #4682B4, road (128, 64, 128)" --out seg/ --json
    openbanana predict kinkakuji.jpg --task depth --point 812,455 --out out/

Positional arguments are inputs (files, folders, glob patterns) followed by an optional
instruction: the last one is taken as the instruction when it is not an existing path and matches
no file (or pass ``--instruction``). With ``--task`` the instruction may be left out (the task's
canonical one is used). Per image the files of :func:`openbanana.io.export.write_prediction` are
written (with several ``--task`` each task gets a sub-folder of ``--out``).

Bad inputs (unreadable files, empty folders, ...) are reported one line each on stderr and the
rest is still done; the exit code is 1 if any input failed, 2 for a usage error (unknown task,
instruction with no parsable palette, missing model), 0 otherwise. Never a traceback.
"""

from __future__ import annotations

import glob
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from openbanana.errors import InstructionError, OpenBananaError
from openbanana.io.export import DEFAULT_FOV_DEG

# normals first, so the depth point cloud of the same image can carry them
_TASK_ORDER = {"normals": 0, "depth": 1}


@dataclass
class ItemResult:
    """What happened to one input for one task (one entry of ``--json``'s ``results``)."""

    input: str
    task: str | None
    ok: bool
    error: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    point: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def parse_point(text: str | None) -> tuple[int, int] | None:
    """``"X,Y"`` -> (x, y) integer pixel coordinates (x = column, y = row, from the top-left)."""
    if text is None:
        return None
    parts = text.replace(" ", "").split(",")
    try:
        x, y = (int(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(f"expected --point X,Y with two integers, got {text!r}") from None
    if x < 0 or y < 0:
        raise typer.BadParameter(f"--point coordinates must be >= 0, got {text!r}")
    return x, y


def split_args(args: list[str], instruction: str | None, tasks: list[str]) -> tuple[list[str], str | None]:
    """Separate input specs from the trailing instruction (see the module docstring)."""
    args = list(args)
    if instruction is None and len(args) >= 2:
        last = args[-1]
        if not Path(last).exists() and not glob.glob(last):
            instruction = args.pop()
    if instruction is None and not tasks:
        raise typer.BadParameter('give an instruction after the inputs (e.g. "estimate the depth") or --task')
    if not args:
        raise typer.BadParameter("give at least one input file, folder or glob pattern")
    return args, instruction


def check_tasks(tasks: list[str], instruction: str | None) -> None:
    """Refuse unknown or repeated task names, and an instruction shared by several tasks."""
    from openbanana.tasks import TASKS

    known = [*TASKS.names(), "edit"]
    for t in tasks:
        if t not in known:
            raise InstructionError(f"unknown task {t!r}; expected one of: {', '.join(known)}")
    if len(tasks) != len(set(tasks)):
        raise InstructionError(f"a task is named twice in --task {' --task '.join(tasks)}")
    if instruction is not None and len(tasks) > 1:
        raise InstructionError("an instruction goes with one task; with several --task leave it out")
    if "edit" in tasks and instruction is None:
        raise InstructionError(
            '--task edit needs an instruction saying what to change, e.g. "make the sofa blue"'
        )


def _depth_at(answer: Any, x: int, y: int) -> float:
    import numpy as np

    a = np.asarray(answer)
    h, w = a.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise OpenBananaError(f"--point {x},{y} lies outside the {w}x{h} image")
    return float(a[y, x])


def _stems(paths: list[Path]) -> list[str]:
    """Unique output stems: the file name without suffix, numbered when two inputs share one."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.stem or p.name
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        out.append(stem if n == 0 else f"{stem}-{n}")
    return out


def pick_device(device: str) -> str:
    """``auto``: CUDA when available, else CPU; anything else as given (``cpu``, ``cuda:1``)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_pipeline(model: Path | None, device: str = "cpu") -> Any:
    """The pipeline a user asked for: ``--model DIR`` or the default shipped with the package."""
    from openbanana.pipeline import OpenBananaPipeline, load_model

    device = pick_device(device)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise OpenBananaError(f"--device {device}: no CUDA device is available (use --device cpu)")
    if model is None:
        return load_model(device=device)
    if not Path(model).is_dir():
        raise OpenBananaError(
            f"--model {model}: no such folder (expected a folder written by save_pretrained)"
        )
    return OpenBananaPipeline.from_pretrained(model, device=device)


def run_predict(
    pipe: Any,
    specs: list[str],
    instruction: str | None,
    out: Path,
    *,
    tasks: list[str] | None = None,
    steps: int | None = None,
    ensemble: int | None = None,
    batch_size: int = 4,
    fov_deg: float = DEFAULT_FOV_DEG,
    point: tuple[int, int] | None = None,
    seed: int | None = None,
    ascii_ply: bool = False,
    recursive: bool = False,
    report: Any = None,
    progress: bool = True,
) -> list[ItemResult]:
    """Predict every input and write its files; returns one result per (input, task).

    Bad inputs become failed results (and a line through ``report``); user errors that concern
    every input (unknown task, bad instruction) raise :class:`OpenBananaError` at once.
    """
    import numpy as np
    import torch
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from openbanana.io.export import write_prediction
    from openbanana.io.images import list_inputs, load_image

    console = Console(stderr=True, highlight=False)
    # through the progress bar's console, so report lines and the live bar do not garble each other
    report = report or (lambda msg: console.print(msg, markup=False, soft_wrap=True))
    results: list[ItemResult] = []
    paths: list[Path] = []
    seen: set[Path] = set()
    for spec in specs:
        try:
            for p in list_inputs(spec, recursive=recursive):
                if p.resolve() not in seen:
                    seen.add(p.resolve())
                    paths.append(p)
        except OpenBananaError as exc:
            report(f"error: {exc}")
            results.append(ItemResult(input=spec, task=None, ok=False, error=str(exc)))
    if not paths:
        raise OpenBananaError("no input images to process" + (f" ({results[0].error})" if results else ""))
    task_list: list[str | None] = sorted(tasks, key=lambda t: _TASK_ORDER.get(t, 2)) if tasks else [None]
    check_tasks(tasks or [], instruction)
    if point is not None and "depth" not in task_list and not (instruction and task_list == [None]):
        raise OpenBananaError("--point reads a depth: use it with --task depth or a depth instruction")
    out.mkdir(parents=True, exist_ok=True)
    stems = _stems(paths)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    kwargs: dict[str, Any] = {"num_inference_steps": steps, "ensemble_size": ensemble, "generator": generator}
    kwargs = {k: v for k, v in kwargs.items() if v is not None}  # unset: the model's own defaults

    bar = Progress(
        TextColumn("[bold]predict[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[name]}"),
        console=console,
        disable=not progress,
        transient=False,
    )
    with bar:
        job = bar.add_task("predict", total=len(paths) * len(task_list), name="")
        for start in range(0, len(paths), batch_size):
            chunk = list(range(start, min(start + batch_size, len(paths))))
            images: dict[int, np.ndarray] = {}
            for i in chunk:
                try:
                    images[i] = load_image(paths[i])
                except OpenBananaError as exc:
                    report(f"error: {exc}")
                    for t in task_list:
                        results.append(ItemResult(input=str(paths[i]), task=t, ok=False, error=str(exc)))
                    bar.advance(job, len(task_list))
            normals_of: dict[int, Any] = {}
            for t in task_list:
                ids = list(images)
                if not ids:
                    continue
                t0 = time.perf_counter()
                preds = _predict_batch(
                    pipe, [images[i] for i in ids], instruction, t, kwargs, ids, paths, report
                )
                per = (time.perf_counter() - t0) / len(ids)
                sub = out if len(task_list) == 1 else out / str(t)
                for i, pred in zip(ids, preds, strict=True):
                    bar.update(job, name=paths[i].name)
                    res = ItemResult(input=str(paths[i]), task=t, ok=False, seconds=round(per, 4))
                    results.append(res)
                    bar.advance(job)
                    if isinstance(pred, str):
                        res.error = pred
                        continue
                    res.task = getattr(pred, "task", t)
                    try:
                        if res.task == "normals":
                            normals_of[i] = pred.answer
                        files = write_prediction(
                            pred,
                            images[i],
                            sub,
                            stems[i],
                            fov_deg=fov_deg,
                            normals=normals_of.get(i),
                            ply_binary=not ascii_ply,
                            meta={"input": str(paths[i])},
                        )
                        res.files = {k: str(v) for k, v in files.items()}
                        if point is not None and res.task == "depth":
                            d = _depth_at(pred.answer, *point)
                            res.point = {"x": point[0], "y": point[1], "depth_m": round(d, 4)}
                            report(f"{paths[i]}: depth at ({point[0]}, {point[1]}) = {d:.2f} m")
                        res.ok = True
                    except (OpenBananaError, OSError) as exc:
                        res.error = str(exc)
                        report(f"error: {paths[i]}: {exc}")
    if point is not None and not any(r.point for r in results) and any(r.ok for r in results):
        asked = sorted({str(r.task) for r in results if r.ok})
        report(
            f"note: --point was not used: no depth was predicted (the instruction asked for {', '.join(asked)})"
        )
    return results


def _predict_batch(pipe, images, instruction, task, kwargs, ids, paths, report) -> list[Any]:
    """Predictions for a batch (an error message string in place of a failed one). When a batch
    fails, each of its images is tried alone, so one bad image fails alone."""
    try:
        return list(pipe(images=images, instruction=instruction, task=task, **kwargs))
    except InstructionError:
        raise  # the same for every input: a usage error
    except Exception as exc:  # noqa: BLE001 -- never a traceback at the CLI; say what broke
        if len(images) > 1:
            out: list[Any] = []
            for img, i in zip(images, ids, strict=True):
                out += _predict_batch(pipe, [img], instruction, task, kwargs, [i], paths, report)
            return out
        msg = (
            str(exc) if isinstance(exc, OpenBananaError) else f"internal error ({type(exc).__name__}: {exc})"
        )
        report(f"error: {paths[ids[0]]}: {msg}")
        return [msg]


def register(app: typer.Typer) -> None:
    """Add ``predict`` to the root app."""

    @app.command("predict")
    def predict(
        args: Annotated[
            list[str],
            typer.Argument(
                metavar="INPUT... [INSTRUCTION]",
                show_default=False,
                help="Image files, folders or glob patterns, then the instruction.",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files (created).")],
        task: Annotated[
            list[str] | None, typer.Option("--task", "-t", help="Task name (repeatable): depth, normals, ...")
        ] = None,
        instruction: Annotated[
            str | None,
            typer.Option("--instruction", "-i", help="The instruction (instead of the last positional)."),
        ] = None,
        model: Annotated[
            Path | None, typer.Option("--model", help="Pipeline folder (default: the shipped model).")
        ] = None,
        steps: Annotated[
            int | None, typer.Option("--steps", min=1, help="Sampling steps (default: the model's).")
        ] = None,
        ensemble: Annotated[
            int | None,
            typer.Option("--ensemble", min=1, help="Samples combined per prediction (default: the model's)."),
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")] = 4,
        fov_deg: Annotated[
            float,
            typer.Option(
                "--fov-deg", min=1.0, max=179.0, help="Horizontal field of view of the depth point cloud."
            ),
        ] = DEFAULT_FOV_DEG,
        point: Annotated[
            str | None, typer.Option("--point", help="X,Y: print the depth at this pixel in metres.")
        ] = None,
        json_out: Annotated[
            bool, typer.Option("--json", help="Print machine-readable results on stdout.")
        ] = False,
        seed: Annotated[
            int | None, typer.Option("--seed", help="Random seed (reproducible sampling).")
        ] = None,
        ascii_ply: Annotated[
            bool, typer.Option("--ascii-ply", help="Write ASCII instead of binary PLY.")
        ] = False,
        recursive: Annotated[
            bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")
        ] = False,
        device: Annotated[
            str, typer.Option("--device", help="auto (CUDA if available) | cpu | cuda | cuda:N")
        ] = "auto",
    ) -> None:
        """Predict a task (or follow an instruction) on images and write the answers."""
        xy = parse_point(point)
        specs, instr = split_args(args, instruction, task or [])
        pipe = load_pipeline(model, device)
        t0 = time.perf_counter()
        results = run_predict(
            pipe,
            specs,
            instr,
            out,
            tasks=task or None,
            steps=steps,
            ensemble=ensemble,
            batch_size=batch_size,
            fov_deg=fov_deg,
            point=xy,
            seed=seed,
            ascii_ply=ascii_ply,
            recursive=recursive,
            progress=not json_out and sys.stderr.isatty(),
        )
        failed = [r for r in results if not r.ok]
        bad_inputs = sorted({r.input for r in failed})
        summary = {
            "inputs_ok": len({r.input for r in results} - set(bad_inputs)),
            "inputs_failed": len(bad_inputs),
            "ok": len(results) - len(failed),
            "failed": len(failed),
            "seconds": round(time.perf_counter() - t0, 3),
            "out": str(out),
            "results": [r.as_dict() for r in results],
        }
        if json_out:
            typer.echo(json.dumps(summary, indent=2))
        else:
            typer.echo(
                f"{summary['inputs_ok']} image(s) done, {summary['inputs_failed']} failed; files in {out}"
            )
        if failed:
            sys.exit(1)  # (typer.Exit would be swallowed by main(standalone_mode=False))
