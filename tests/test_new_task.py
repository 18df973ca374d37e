"""The proof of the task abstraction: a new task, written here and nowhere else, flows through
training data, the pipeline, ``predict``, the evaluation and the server's task list.

The task, ``edges`` (object boundaries, white on black), is everything a new task is: a unit of
:mod:`openbanana.tasks` (codec, instruction templates, answer kind), its scene target in the
synthetic world (:data:`~openbanana.data.synthetic.targets.SCENE_TARGETS`) and its scorer
(:data:`~openbanana.evaluation.scoring.SCORERS`). The fixture registers the three for one test and
takes them out again, so no other test sees it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import openbanana
from openbanana.data.sources.base import Target
from openbanana.data.synthetic import render_scene
from openbanana.data.synthetic.targets import SCENE_TARGETS, SceneTargets, TaskTarget
from openbanana.evaluation.scoring import SCORERS, Column, Scorer, Scoring
from openbanana.tasks import TASKS, Answer, Task, task_names

sys.path.insert(0, str(Path(__file__).resolve().parent))
from surfaces_helpers import build_tiny_pipeline_dir, run_cli

TEMPLATES = (
    "Draw the outlines of the objects in white on black.",
    "Trace every object boundary in white on a black background.",
    "Show where one object ends and another begins: white lines on black.",
)


class EdgesTask(Task):
    """Object boundaries as one mask, drawn white on black."""

    name: ClassVar[str] = "edges"
    description: ClassVar[str] = "object boundaries, white on black"
    keywords: ClassVar[tuple[str, ...]] = (r"\boutlines?\b", r"\bboundar(y|ies)\b")
    answer_kind = "masks"
    order: ClassVar[int] = 6

    def encode(self, target: Any, **spec: Any) -> np.ndarray:
        mask = np.asarray(target, bool).reshape(-1, *np.shape(target)[-2:]).any(0)  # (H, W)
        return np.repeat(mask[..., None] * np.uint8(255), 3, axis=-1)

    def decode(self, rgb: Any, **spec: Any) -> Answer:
        rgb = rgb.detach().cpu().numpy() if hasattr(rgb, "detach") else np.asarray(rgb)
        return self.answer(rgb.astype(np.float32).mean(-1)[..., None, :, :] > 127.5)  # (..., 1, H, W)

    def instruction(self, rng: np.random.Generator | None = None, **spec: Any) -> str:
        return TEMPLATES[0] if rng is None else TEMPLATES[int(rng.integers(len(TEMPLATES)))]


def boundaries(instance: np.ndarray) -> np.ndarray:
    """Pixels whose right or lower neighbour belongs to another object: bool ``(1, H, W)``."""
    edge = np.zeros(instance.shape, bool)
    edge[:, :-1] |= instance[:, :-1] != instance[:, 1:]
    edge[:-1] |= instance[:-1] != instance[1:]
    return edge[None]


class EdgesTargets(SceneTargets):
    """A scene's edges: its instance map's boundaries (no spec to draw)."""

    task = "edges"

    def train(self, scene: Any, rng: np.random.Generator, cfg: Any) -> TaskTarget:
        return TaskTarget("edges", boundaries(scene.instance))

    def benchmark(self, scene: Any, index: int, split: str) -> list[TaskTarget]:
        return [TaskTarget("edges", boundaries(np.asarray(scene.instance)))]

    def truth(self, scene: Any, spec: dict[str, Any]) -> TaskTarget:
        return TaskTarget("edges", boundaries(scene.instance), spec)


class EdgesScorer(Scorer):
    """Edge IoU, pooled over the split."""

    task = "edges"
    primary = "iou"

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        gt, pred = np.asarray(target.gt, bool), np.asarray(answer, bool)
        inter, union = int((gt & pred).sum()), int((gt | pred).sum())
        self.entries.append((index, target.key, (inter, union)))
        return {"iou": inter / union if union else 1.0}

    def compute(self) -> dict[str, Any]:
        inter = sum(e[2][0] for e in self.entries)
        union = sum(e[2][1] for e in self.entries)
        return {"iou": inter / union if union else 1.0, "n_images": len(self.entries)}


@pytest.fixture
def edges():
    """The new task registered in the three registries for one test, then taken out."""
    scoring = Scoring("edges", "edges", (Column("iou", "edge IoU"),), True, lambda o: EdgesScorer())
    with TASKS.registered("edges", EdgesTask()), SCENE_TARGETS.registered("edges", EdgesTargets()), \
            SCORERS.registered("edges", scoring):
        yield
    assert "edges" not in TASKS and "edges" not in task_names()


def test_the_task_lists_are_derived_from_the_registry(edges):
    from openbanana.cli.demo import DEMO_TASKS
    from openbanana.data.mixture import VISION_TASKS
    from openbanana.evaluation.benchmarks import BENCHMARKS
    from openbanana.pipeline_config import DENSE_TASKS
    from openbanana.server.app import task_names as server_tasks

    assert task_names()[-1] == "edges"  # its declared order: after the six built-in tasks
    for names in (VISION_TASKS, DENSE_TASKS, DEMO_TASKS, server_tasks(), BENCHMARKS.get("synthetic-val").tasks):
        assert "edges" in names


def test_codec_round_trips_through_the_public_encode_and_decode(edges):
    mask = boundaries(render_scene(0, split="val", size=32).instance)
    answer = openbanana.decode("edges", openbanana.encode("edges", mask))
    assert answer.kind == "masks" and answer.task == "edges"
    np.testing.assert_array_equal(answer.value, mask)


def test_training_data_samples_it_at_its_vision_weight(edges):
    from openbanana.data.mixture import MixtureConfig, collate, make_sample

    cfg = MixtureConfig(vision_share=1.0, vision_weights={"edges": 1.0, "depth": 1.0}, size=32)
    samples = [make_sample(cfg, 0, i) for i in range(12)]
    mine = [s for s in samples if s["task"] == "edges"]
    assert 0 < len(mine) < len(samples)
    for s in mine:
        assert s["prompt"] in TEMPLATES
        truth = boundaries(render_scene(s["scene_seed"], split="train", size=32).instance)
        np.testing.assert_array_equal(openbanana.decode("edges", s["target"]).value, truth)
    batch = collate(samples)
    assert batch.tasks.count("edges") == len(mine) and batch.target.shape == (12, 3, 32, 32)


def test_the_pipeline_and_predict_answer_it(edges, tmp_path):
    from openbanana.pipeline import load_model

    model = build_tiny_pipeline_dir(tmp_path / "model")
    image = render_scene(1, split="val", size=(24, 40)).rgb
    pred = load_model(model, device="cpu").predict(image, task="edges")
    assert pred.instruction == TEMPLATES[0]
    assert pred.answer.shape == (1, 24, 40) and pred.answer.dtype == bool

    from openbanana.io.images import save_png

    save_png(tmp_path / "scene.png", image)
    code, out, err = run_cli(["predict", str(tmp_path / "scene.png"), "--task", "edges", "--model", str(model),
                              "--out", str(tmp_path / "out"), "--json"])
    assert code == 0, err
    result = json.loads(out)["results"][0]
    assert result["task"] == "edges" and result["ok"] and result["error"] is None
    assert (tmp_path / "out" / "scene.masks.npy").is_file()


def test_the_evaluation_scores_it_with_its_scorer(edges):
    from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
    from openbanana.evaluation.model import OracleModel
    from openbanana.evaluation.runner import EvalOptions, evaluate

    bench = BENCHMARKS.get("synthetic-val")
    opts = EvalOptions(limit=2, benchmark=BenchmarkOptions(synthetic_size=32))
    source = bench.source(None, opts.benchmark)
    result, _ = evaluate(OracleModel(source), bench, opts, source=source)
    assert result["metrics"]["edges"]["iou"] == 1.0 and result["n_samples"]["edges"] == 2
    assert result["protocol"]["edges"]["primary_metric"] == "iou"
