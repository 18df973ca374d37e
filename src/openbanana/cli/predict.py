"""``openbanana predict``: run the model over files, folders or globs and write every output.

Usage::

    openbanana predict photo.jpg "estimate the depth" --out out/
    openbanana predict photos/ --task depth --task normals --out out/ --fov-deg 65
    openbanana predict "shots/*.png" "the sky is #4682B4, road (128, 64, 128)" --out seg/ --json
    openbanana predict kinkakuji.jpg --task depth --point 812,455 --out out/

Positional arguments are inputs (files, folders, glob patterns) followed by an optional
instruction of any length: the last one is the instruction unless it names an existing path,
matches a glob, or looks like a path (:func:`looks_like_path`: an image suffix, a leading ``/``,
``./``, ``~``, or a separator and no space); a path-like last argument that names nothing is an
error naming it, never an instruction. ``--instruction`` takes any text. With ``--task`` the
instruction may be left out (the task's canonical one is used; referring, reasoning and edit
need one); a ``--task`` that the instruction contradicts ("estimate the depth" with ``--task
normals``) is refused. Per image the files of :func:`openbanana.io.export.write_prediction` are
written (with several ``--task`` each task gets a sub-folder of ``--out``); ``--out`` is checked
first and created only when there is something to write.

Results (the summary, ``--point`` readouts, ``--json``) go to stdout; progress, errors and notes
(an empty answer: all void, no instance, a mask with no pixel) to stderr. Bad inputs (unreadable
files, empty folders, ...) are reported one line each and the rest is still done; the exit code
is 1 if any input failed, 2 for a usage error (unknown task, an instruction with no parsable
palette or contradicting ``--task``, missing model, unusable ``--out``), 0 otherwise. Never a
traceback.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openbanana.errors import InstructionError, OpenBananaError, quoted, shorten
from openbanana.io.export import DEFAULT_FOV_DEG, label_classes, write_prediction
from openbanana.io.images import IMAGE_SUFFIXES, list_inputs, load_image, path_kind
from openbanana.tasks import GENERATION, GENERATION_TASKS, TASKS
from openbanana.tasks.router import task_conflict

# normals first, so the depth point cloud of the same image can carry them
_TASK_ORDER = {"normals": 0, "depth": 1}


@dataclass
class ItemResult:
    """What happened to one input for one task (one entry of ``--json``'s ``results``; every key
    is present whatever the outcome, None or empty when it does not apply)."""

    input: str
    task: str | None
    ok: bool
    error: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    point: dict[str, Any] | None = None
    empty: bool | None = None
    note: str | None = None
    classes: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def looks_like_path(text: str) -> bool:
    """Whether a positional argument reads as a path rather than an instruction: it ends with an
    image suffix (``.png``, ``.jpg``, ...), starts with ``/``, ``./``, ``../`` or ``~``, or holds
    a path separator and no white space (``shots/*.png``, but not "the cat/dog in red")."""
    t = text.strip()
    if t.lower().endswith(IMAGE_SUFFIXES) or t.startswith(("/", "./", "../", "~")):
        return True
    seps = {"/", os.sep, os.altsep} - {None}
    return any(c in t for c in seps) and not any(c.isspace() for c in t)


def names_input(text: str) -> bool:
    """Whether ``text`` names an existing file or folder or a glob matching something. Never
    raises: a name too long for the system (an 830-character instruction) names nothing."""
    if path_kind(text) is not None:
        return True
    try:
        return glob.has_magic(text) and bool(glob.glob(text))
    except (OSError, ValueError):
        return False


def split_args(args: list[str], instruction: str | None, tasks: list[str]) -> tuple[list[str], str | None]:
    """Separate input specs from the trailing instruction (see the module docstring)."""
    args = list(args)
    if instruction is None and len(args) >= 2 and not (names_input(args[-1]) or looks_like_path(args[-1])):
        instruction = args.pop()
    if instruction is None and not tasks:
        raise typer.BadParameter(_missing_instruction(args))
    if not args:
        raise typer.BadParameter("give at least one input file, folder or glob pattern")
    return args, instruction


def _missing_instruction(args: list[str]) -> str:
    """Why no instruction was found among ``args``, in the user's terms."""
    last = args[-1] if args else ""
    if len(args) >= 2 and looks_like_path(last) and not names_input(last):
        return (
            f"{shorten(last)}: no such file or folder (it looks like a path, so it is not read as the "
            "instruction; pass the instruction as text after the inputs or with --instruction)"
        )
    if len(args) == 1 and not (names_input(last) or looks_like_path(last)):
        return (
            f"{quoted(last)} is no file, folder or glob: give the input image(s) before the instruction, "
            'e.g. openbanana predict photo.jpg "estimate the depth"'
        )
    return 'give an instruction after the inputs (e.g. "estimate the depth") or --task'


def check_tasks(tasks: list[str], instruction: str | None) -> list[str]:
    """Check the request before anything runs; returns the task each request will run.

    Refuses unknown or repeated task names, an instruction shared by several tasks, a task that
    needs an instruction and has none, a ``--task`` the instruction contradicts, and an
    instruction the task (or the router) cannot read.
    """
    from openbanana.pipeline import resolve_request

    # every vision task, and the generation tasks that take an input image (edit)
    known = [*TASKS.names(), *(g for g in GENERATION_TASKS if GENERATION.get(g).needs_image)]
    for t in tasks:
        if t not in known:
            raise InstructionError(f"unknown task {t!r}; expected one of: {', '.join(known)}")
    if len(tasks) != len(set(tasks)):
        raise InstructionError(f"a task is named twice in --task {' --task '.join(tasks)}")
    if instruction is not None and len(tasks) > 1:
        raise InstructionError("an instruction goes with one task; with several --task leave it out")
    if instruction is None:
        return [_task_without_instruction(t) for t in tasks]
    if tasks:
        asked = task_conflict(instruction, tasks[0])
        if asked is not None:
            raise InstructionError(
                f"--task {tasks[0]} contradicts the instruction {quoted(instruction)}, which asks for "
                f"{asked}; leave out --task, or give an instruction for {tasks[0]}"
            )
    return [resolve_request(instruction, tasks[0] if tasks else None, True)[0]]


def _task_without_instruction(task: str) -> str:
    """``task`` when it can run on its canonical instruction; else a usage error in the user's words."""
    from openbanana.pipeline import resolve_request

    hint = (GENERATION.get(task) if task in GENERATION else TASKS.get(task)).instruction_hint
    if task in GENERATION:  # an edit says what to change: there is no canonical one
        raise InstructionError(f"--task {task} needs an instruction {hint}")
    try:
        resolve_request(None, task, True)
    except InstructionError:
        raise InstructionError(f"--task {task} needs an instruction {hint}") from None
    return task


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot become a writable folder, naming it; creates nothing."""
    out = Path(out)
    if path_kind(out) == "file":
        raise OpenBananaError(f"--out {shorten(str(out))}: is a file, not a folder")
    base = out
    while path_kind(base) is None and base.parent != base:  # the nearest existing path above
        base = base.parent
    if path_kind(base) == "file":
        raise OpenBananaError(f"--out {shorten(str(out))}: cannot make a folder there, {base} is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OpenBananaError(f"--out {shorten(str(out))}: cannot write there, {base} is not writable")


def _make_folder(folder: Path, out: Path) -> None:
    """Create an output folder when the first file is due; a failure names ``--out``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OpenBananaError(
            f"--out {shorten(str(out))}: cannot create the folder {folder} ({exc.strerror or exc})"
        ) from None


def _depth_at(answer: Any, x: int, y: int) -> float | None:
    """The depth in metres at pixel (x, y), None where the prediction is not valid."""
    a = np.asarray(answer)
    h, w = a.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise OpenBananaError(f"--point {x},{y} lies outside the {w}x{h} image")
    d = float(a[y, x])
    return d if np.isfinite(d) else None


def _point_result(path: Path, answer: Any, point: tuple[int, int]) -> tuple[dict[str, Any], str]:
    """``--point``'s JSON entry and its stdout line for one depth answer."""
    d = _depth_at(answer, *point)
    where = f"{path}: depth at ({point[0]}, {point[1]})"
    line = f"{where} = {d:.2f} m" if d is not None else f"{where}: no valid depth there"
    return {"x": point[0], "y": point[1], "depth_m": None if d is None else round(d, 4)}, line


def _write_error(exc: Exception, out: Path) -> str:
    """One line for a failed write: an OS error names ``--out``."""
    if isinstance(exc, OSError) and not isinstance(exc, OpenBananaError):
        return f"could not write to --out {shorten(str(out))} ({exc.strerror or exc})"
    return str(exc)


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
    mirror: bool | None = None,
    batch_size: int = 4,
    fov_deg: float = DEFAULT_FOV_DEG,
    point: tuple[int, int] | None = None,
    seed: int | None = None,
    ascii_ply: bool = False,
    recursive: bool = False,
    report: Callable[[str], None] | None = None,
    say: Callable[[str], None] | None = None,
    progress: bool = True,
) -> list[ItemResult]:
    """Predict every input and write its files; returns one result per (input, task).

    The request (tasks, instruction, ``--point``, ``--out``) is checked before any input is read
    and ``out`` is created only when the first file is written. Bad inputs become failed results
    (and a line through ``report``, stderr by default); user errors that concern every input
    (unknown task, bad or contradicting instruction, unusable ``--out``) raise
    :class:`OpenBananaError` at once. Answers (the ``--point`` readouts) go through ``say``
    (stdout by default) after the progress bar is done.
    """
    import torch

    console = Console(stderr=True, highlight=False)
    # through the progress bar's console, so report lines and the live bar do not garble each other
    report = report or (lambda msg: console.print(msg, markup=False, soft_wrap=True))
    say = say or typer.echo
    resolved = check_tasks(tasks or [], instruction)
    if point is not None and "depth" not in resolved:
        asked = "the instruction asks" if instruction is not None else "--task asks"
        raise OpenBananaError(f"--point reads a depth, but {asked} for {', '.join(resolved)}")
    check_out(out)
    results, paths = _list_paths(specs, recursive, report)
    task_list: list[str | None] = sorted(tasks, key=lambda t: _TASK_ORDER.get(t, 2)) if tasks else [None]
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    kwargs: dict[str, Any] = {"num_inference_steps": steps, "ensemble_size": ensemble, "generator": generator,
                              "mirror": mirror}
    job = _Job(
        pipe=pipe,
        paths=paths,
        stems=_stems(paths),
        instruction=instruction,
        out=out,
        kwargs={k: v for k, v in kwargs.items() if v is not None},  # unset: the model's own defaults
        write={"fov_deg": fov_deg, "ply_binary": not ascii_ply},
        point=point,
        report=report,
        routed=None if tasks else resolved[0],
    )
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
        job.bar, job.bar_id = bar, bar.add_task("predict", total=len(paths) * len(task_list), name="")
        for start in range(0, len(paths), batch_size):
            results += job.run_chunk(list(range(start, min(start + batch_size, len(paths)))), task_list)
    for line in job.answers:
        say(line)
    return results


def _list_paths(
    specs: list[str], recursive: bool, report: Callable[[str], None]
) -> tuple[list[ItemResult], list[Path]]:
    """Every input image of ``specs`` once, and a failed result per spec that gives none; raises
    when no spec gives an image."""
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
    return results, paths


@dataclass
class _Job:
    """One ``predict`` run's fixed settings, and the answers it has to say at the end."""

    pipe: Any
    paths: list[Path]
    stems: list[str]
    instruction: str | None
    out: Path
    kwargs: dict[str, Any]
    write: dict[str, Any]
    point: tuple[int, int] | None
    report: Callable[[str], None]
    routed: str | None = None  # the task the instruction asks for, when no --task is given
    answers: list[str] = field(default_factory=list)
    bar: Any = None
    bar_id: Any = None

    def run_chunk(self, chunk: list[int], task_list: list[str | None]) -> list[ItemResult]:
        """Load, predict and write one batch of inputs for every task."""
        results: list[ItemResult] = []
        images: dict[int, Any] = {}
        for i in chunk:
            try:
                images[i] = load_image(self.paths[i])
            except OpenBananaError as exc:
                self.report(f"error: {exc}")
                for t in task_list:
                    results.append(ItemResult(str(self.paths[i]), t or self.routed, ok=False, error=str(exc)))
                self.bar.advance(self.bar_id, len(task_list))
        normals_of: dict[int, Any] = {}
        for t in task_list:
            ids = list(images)
            if not ids:
                continue
            t0 = time.perf_counter()
            batch = [images[i] for i in ids]
            preds = _predict_batch(
                self.pipe, batch, self.instruction, t, self.kwargs, ids, self.paths, self.report
            )
            per = round((time.perf_counter() - t0) / len(ids), 4)
            sub = self.out if len(task_list) == 1 else self.out / str(t)
            for i, pred in zip(ids, preds, strict=True):
                self.bar.update(self.bar_id, name=self.paths[i].name)
                res = ItemResult(input=str(self.paths[i]), task=t or self.routed, ok=False, seconds=per)
                results.append(res)
                self.bar.advance(self.bar_id)
                if isinstance(pred, str):
                    res.error = pred
                    continue
                if getattr(pred, "task", t) == "normals":
                    normals_of[i] = pred.answer
                self._finish(res, pred, images[i], sub, i, normals_of.get(i))
        return results

    def _finish(self, res: ItemResult, pred: Any, image: Any, sub: Path, i: int, normals: Any) -> None:
        """Write one prediction's files and fill its result: files, point, emptiness, classes."""
        from openbanana.pipeline import answer_emptiness

        path = self.paths[i]
        res.task = getattr(pred, "task", res.task)
        empty, note = answer_emptiness(pred)
        _make_folder(sub, self.out)  # raises: with no folder nothing else can be written either
        try:
            files = write_prediction(
                pred, image, sub, self.stems[i], normals=normals,
                meta={"input": str(path), "empty": empty, "note": note}, **self.write,
            )
            if self.point is not None and res.task == "depth":
                res.point, line = _point_result(path, pred.answer, self.point)
                self.answers.append(line)
        except (OpenBananaError, OSError) as exc:
            res.error = _write_error(exc, self.out)
            self.report(f"error: {path}: {res.error}")
            return
        res.ok, res.empty, res.note, res.classes = True, empty, note, label_classes(pred)
        res.files = {k: str(v) for k, v in files.items()}
        if note:
            what = "the answer is empty" if empty else "part of the answer is empty"
            self.report(f"note: {path}: {what} ({note})")


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


def summarize(results: list[ItemResult], out: Path, seconds: float) -> dict[str, Any]:
    """The ``--json`` document: counts, then every result with the same keys."""
    failed = [r for r in results if not r.ok]
    bad_inputs = {r.input for r in failed}
    return {
        "inputs_ok": len({r.input for r in results} - bad_inputs),
        "inputs_failed": len(bad_inputs),
        "ok": len(results) - len(failed),
        "failed": len(failed),
        "empty": sum(1 for r in results if r.ok and r.empty),
        "seconds": round(seconds, 3),
        "out": str(out),
        "results": [r.as_dict() for r in results],
    }


def summary_line(summary: dict[str, Any]) -> str:
    """The one-line console summary: done, empty answers, failed, where the files are."""
    empty = f" ({summary['empty']} with an empty answer)" if summary["empty"] else ""
    where = f"files in {summary['out']}" if summary["ok"] else "nothing written"
    return f"{summary['inputs_ok']} image(s) done{empty}, {summary['inputs_failed']} failed; {where}"


def register(app: typer.Typer) -> None:
    """Add ``predict`` to the root app."""

    @app.command("predict")
    def predict(
        args: Annotated[
            list[str],
            typer.Argument(
                metavar="INPUT... [INSTRUCTION]",
                show_default=False,
                help="Image files, folders or glob patterns, then the instruction (any length; a last "
                "argument that looks like a path is an input, never the instruction).",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files (created when the first is written).")],
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
        mirror: Annotated[
            bool | None,
            typer.Option("--mirror/--no-mirror", help="Also answer each image's mirror for depth and normals "
                         "and combine the two (default: the model's)."),
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")] = 4,
        fov_deg: Annotated[
            float,
            typer.Option(
                "--fov-deg", min=1.0, max=179.0, help="Horizontal field of view of the depth point cloud."
            ),
        ] = DEFAULT_FOV_DEG,
        point: Annotated[
            str | None, typer.Option("--point", help="X,Y: print the depth at this pixel in metres (stdout).")
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
        check_tasks(task or [], instr)  # before the model loads (run_predict checks again)
        check_out(out)
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
            mirror=mirror,
            batch_size=batch_size,
            fov_deg=fov_deg,
            point=xy,
            seed=seed,
            ascii_ply=ascii_ply,
            recursive=recursive,
            say=(lambda _line: None) if json_out else None,  # --json carries the readouts
            progress=not json_out and sys.stderr.isatty(),
        )
        summary = summarize(results, out, time.perf_counter() - t0)
        typer.echo(json.dumps(summary, indent=2) if json_out else summary_line(summary))
        if summary["failed"]:
            sys.exit(1)  # (typer.Exit would be swallowed by main(standalone_mode=False))

