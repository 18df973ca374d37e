"""`openbanana demo`: the default model on the bundled examples, every task, one picture.

For each example image (rendered from the synthetic world's val split, so its ground truth is
known) the model answers every vision task from its instruction; the demo writes one sheet per
example and prints what each answer scored against the ground truth. Each task's row pairs like
with like (:func:`task_panels`): the input, what the model drew beside the ground truth drawn in
the same colour code, then the decoded answer beside the ground truth shown the same way (the
truth's drawing decoded, with the same palette and, for depth, the same colour scale).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import openbanana
from openbanana.data.sources.base import Target
from openbanana.data.synthetic import render_scene
from openbanana.data.synthetic.targets import SCENE_TARGETS, TaskTarget
from openbanana.io.export import answer_kind, depth_limits, make_sheet, visualize
from openbanana.io.images import load_image, save_png
from openbanana.server.app import example_images
from openbanana.tasks import TASKS, task_names


def _scene_for(example: Path):
    """The synthetic scene an example was rendered from (``val_000_outdoor.png`` -> val seed 0)."""
    m = re.match(r"(train|val|shift)_(\d+)", example.stem)
    if m is None:
        return None
    h, w = load_image(example).shape[:2]
    return render_scene(int(m.group(2)), split=m.group(1), size=(h, w))


def demo_tasks() -> tuple[str, ...]:
    """The vision tasks the demo runs, in sheet order: the registered tasks whose scene target
    (:data:`~openbanana.data.synthetic.targets.SCENE_TARGETS`) is shown on the demo sheets."""
    return tuple(t for t in task_names() if t in SCENE_TARGETS and SCENE_TARGETS.get(t).in_demo)


def __getattr__(name: str) -> Any:
    # DEMO_TASKS is read when asked for, so a task registered after import is in it
    if name == "DEMO_TASKS":
        return demo_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _request(task: str, scene) -> tuple[dict, int]:
    """The spec the demo asks ``task`` with, and the instance id its phrase names (-1: none): a
    task whose request must name its targets asks the scene's first phrase."""
    if not TASKS.get(task).needs_instruction:
        return {}, -1
    phrases = SCENE_TARGETS.get(task).phrases(scene) if scene is not None else []
    expr, ids = phrases[0] if phrases else ("the largest object", -1)
    return {"expressions": [expr]}, int(np.atleast_1d(ids)[0])


def _truth(task: str, scene, target_id: int, spec: dict | None = None) -> TaskTarget | None:
    """The scene's truth for a request: under ``spec`` (the prediction's), or else the demo's own
    (a phrase naming object ``target_id`` for a task whose request must name its targets)."""
    if scene is None or task not in SCENE_TARGETS:
        return None
    if spec is None:
        spec = SCENE_TARGETS.get(task).default_spec()
        if TASKS.get(task).needs_instruction:
            phrases = [p for p, ids in SCENE_TARGETS.get(task).phrases(scene) if target_id in np.atleast_1d(ids)]
            if not phrases:
                return None
            spec = {"expressions": phrases[:1]}
    return SCENE_TARGETS.get(task).truth(scene, spec)


def _ground_truth(task: str, scene, target_id: int):
    """The scene's ground truth drawn in the task's own colour code (what a perfect model paints)."""
    truth = _truth(task, scene, target_id)
    return None if truth is None else truth.draw()


def _decode_truth(task: str, truth_rgb, spec: dict):
    """What a perfect drawing decodes to: ``(answer, valid)`` of the truth's colour code, read
    with the prediction's own spec (palette, target colours)."""
    decoded = openbanana.decode(task, truth_rgb, **spec)
    return np.asarray(decoded.value), decoded.valid


def task_panels(task: str, pred, image, truth_rgb) -> list:
    """One sheet row: the input; the model's drawing beside the ground truth in the same colour
    code; the decoded answer beside the truth decoded and shown the same way (same palette, same
    depth scale). Without a ground truth only the model's panels are drawn."""
    kind = answer_kind(task, pred.answer)
    truth = None if truth_rgb is None else _decode_truth(task, truth_rgb, pred.spec)
    scale = None
    if kind == "depth":
        scale = depth_limits(*truth) if truth is not None else depth_limits(pred.answer, pred.valid)

    def view(answer, valid):
        return visualize(kind, answer, valid=valid, spec=pred.spec, image=image, depth_range=scale)

    panels = [(f"input ({task})", image), ("model drew", pred.generated)]
    if truth is not None:
        panels.append(("truth, same code", truth_rgb))
    panels.append(("decoded", view(pred.answer, pred.valid)))
    if truth is not None:
        panels.append(("truth, same view", view(*truth)))
    return panels


def _score(task: str, pred, scene, target_id: int = -1) -> str:
    """``pred`` scored against the scene's truth with the synthetic benchmark's protocol (the scorer
    registry, :data:`~openbanana.evaluation.scoring.SCORERS`): its first two columns, in words."""
    from openbanana.evaluation.benchmarks import BenchmarkOptions
    from openbanana.evaluation.scoring import SCORERS

    truth = _truth(task, scene, target_id, pred.spec)
    if truth is None or task not in SCORERS:
        return "-"
    scoring = SCORERS.get(task)
    scorer = scoring.synthetic(BenchmarkOptions())
    scorer.update(0, Target(task=task, gt=truth.answer, valid=truth.valid, spec=truth.spec), pred.answer)
    result = scorer.compute()
    return ", ".join(c.say(result[c.metric]) for c in scoring.columns[:2] if c.metric in result)


def run_demo(out: Path, *, model: Path | None = None, n: int = 2, device: str = "cpu") -> Path:
    """Run every demo task on ``n`` bundled examples; returns the path of the first sheet."""
    from openbanana.pipeline import load_model

    console = Console()
    examples = [Path(p) for p in example_images()][: max(1, n)]
    if not examples:
        raise FileNotFoundError("no bundled example images found under openbanana/assets/examples")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pipe = load_model(model, device=device)
    console.print(f"loaded {pipe!r} in {time.perf_counter() - t0:.1f} s")
    table = Table("example", "task", "instruction", "seconds", "against ground truth")
    sheets = []
    with Progress(console=console, transient=True) as progress:
        tasks = demo_tasks()
        bar = progress.add_task("predicting", total=len(examples) * len(tasks))
        for ex in examples:
            image = load_image(ex)
            scene = _scene_for(ex)
            rows = []
            for task in tasks:
                spec, target_id = _request(task, scene)
                t = time.perf_counter()
                pred = pipe.predict(image, task=task, **spec)
                dt = time.perf_counter() - t
                gt = _ground_truth(task, scene, target_id)
                rows.append(make_sheet(task_panels(task, pred, image, gt), height=128))
                table.add_row(ex.stem, task, pred.instruction[:60] + ("..." if len(pred.instruction) > 60 else ""),
                              f"{dt:.2f}", _score(task, pred, scene, target_id))
                progress.advance(bar)
            sheet = out / f"{ex.stem}.demo.png"
            width = max(r.shape[1] for r in rows)
            grid = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                   for r in rows])
            save_png(sheet, grid)
            sheets.append(sheet)
    console.print(table)
    for s in sheets:
        console.print(f"wrote {s}")
    return sheets[0]


def register(app: typer.Typer) -> None:
    """Add ``openbanana demo`` to the root app."""

    @app.command()
    def demo(
        out: Annotated[Path, typer.Option("--out", "-o", help="folder for the sheets")] = Path("out/demo"),
        model: Annotated[Path | None, typer.Option(help="pipeline folder (default: the shipped model)")] = None,
        n: Annotated[int, typer.Option(min=1, help="how many bundled examples")] = 2,
        device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    ) -> None:
        """Run the default model on the bundled examples: every task, one picture per example."""
        run_demo(out, model=model, n=n, device=device)
