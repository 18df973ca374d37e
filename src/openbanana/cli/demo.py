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
from typing import Annotated

import typer

from openbanana.tasks import task_names


def _scene_for(example: Path):
    """The synthetic scene an example was rendered from (``val_000_outdoor.png`` -> val seed 0)."""
    from openbanana.data.synthetic import render_scene

    m = re.match(r"(train|val|shift)_(\d+)", example.stem)
    if m is None:
        return None
    from openbanana.io.images import load_image

    h, w = load_image(example).shape[:2]
    return render_scene(int(m.group(2)), split=m.group(1), size=(h, w))


def _depth_truth(scene, target_id: int):
    import numpy as np

    import openbanana

    return openbanana.encode("depth", np.minimum(scene.depth_m, 1e4))


def _normals_truth(scene, target_id: int):
    import openbanana

    return openbanana.encode("normals", scene.normals)


def _semantic_truth(scene, target_id: int):
    import numpy as np

    from openbanana.data.synthetic import CLASS_COLORS

    colors = np.concatenate([CLASS_COLORS, np.zeros((256 - len(CLASS_COLORS), 3), np.uint8)])
    return colors[scene.semantic]


def _instance_truth(scene, target_id: int):
    import openbanana

    return openbanana.encode("instance", scene.instance)


def _referring_truth(scene, target_id: int):
    import openbanana

    return openbanana.encode("referring", scene.instance == target_id)


#: task -> the scene's ground truth drawn in the task's own colour code (reasoning has none: no
#: synthetic scene carries a question to ask)
_TRUTH = {
    "depth": _depth_truth,
    "normals": _normals_truth,
    "semantic": _semantic_truth,
    "instance": _instance_truth,
    "referring": _referring_truth,
}
#: the vision tasks the demo runs, in sheet order: the registered tasks with a ground truth here
DEMO_TASKS: tuple[str, ...] = tuple(t for t in task_names() if t in _TRUTH)


def _ground_truth(task: str, scene, target_id: int):
    """The scene's ground truth drawn in the task's own colour code (what a perfect model paints)."""
    if scene is None or task not in _TRUTH:
        return None
    return _TRUTH[task](scene, target_id)


def _decode_truth(task: str, truth_rgb, spec: dict):
    """What a perfect drawing decodes to: ``(answer, valid)`` of the truth's colour code, read
    with the prediction's own spec (palette, target colours)."""
    import numpy as np

    import openbanana

    decoded = openbanana.decode(task, truth_rgb, **spec)
    return np.asarray(decoded.value), decoded.valid


def task_panels(task: str, pred, image, truth_rgb) -> list:
    """One sheet row: the input; the model's drawing beside the ground truth in the same colour
    code; the decoded answer beside the truth decoded and shown the same way (same palette, same
    depth scale). Without a ground truth only the model's panels are drawn."""
    from openbanana.io.export import answer_kind, depth_limits, visualize

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
    """One short score of ``pred`` against the scene's ground truth (for the printed table)."""
    import numpy as np

    from openbanana import metrics

    if scene is None:
        return "-"
    if task == "depth":
        gt = scene.depth_m
        ok = np.isfinite(gt) & (gt < 80)
        r = metrics.depth(pred.answer, np.where(ok, gt, 0), valid=ok, max_depth_m=80.0)
        return f"delta1 {r['delta1']:.2f}, AbsRel {r['abs_rel']:.2f}"
    if task == "normals":
        ok = np.linalg.norm(scene.normals, axis=-1) > 0.5
        r = metrics.normals(pred.answer, scene.normals, valid=ok)
        return f"mean angle {r['mean']:.1f} deg"
    if task == "semantic":
        names = pred.class_names or []
        from openbanana.data.synthetic import CLASSES

        lut = np.array([CLASSES.index(n) if n in CLASSES else 255 for n in names] + [255] * (256 - len(names)))
        ev = metrics.SemanticEvaluator(len(CLASSES))
        ev.update(lut[np.clip(pred.answer, 0, 255)], scene.semantic)
        r = ev.compute()
        return f"pixel acc {r['pixel_accuracy']:.2f}"
    if task == "referring":
        ev = metrics.ReferringEvaluator()
        ev.update(pred.answer[0], scene.instance == target_id)
        return f"IoU {ev.compute()['ciou']:.2f}"
    if task == "instance":
        return f"{int(pred.answer.max())} instances (scene: {len(scene.objects)} objects)"
    return "-"


def run_demo(out: Path, *, model: Path | None = None, n: int = 2, device: str = "cpu") -> Path:
    """Run every demo task on ``n`` bundled examples; returns the path of the first sheet."""
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from openbanana.io.export import make_sheet
    from openbanana.io.images import load_image, save_png
    from openbanana.pipeline import load_model
    from openbanana.server.app import example_images

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
        bar = progress.add_task("predicting", total=len(examples) * len(DEMO_TASKS))
        for ex in examples:
            image = load_image(ex)
            scene = _scene_for(ex)
            rows = []
            for task in DEMO_TASKS:
                spec = {}
                if task == "referring":
                    expr, target = (scene.referring[0] if scene is not None and scene.referring
                                    else ("the largest object", -1))
                    spec = {"expressions": [expr]}
                t = time.perf_counter()
                pred = pipe.predict(image, task=task, **spec)
                dt = time.perf_counter() - t
                target_id = target if task == "referring" else -1
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
