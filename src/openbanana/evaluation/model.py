"""What the harness needs from a model, and two reference models that answer from the ground truth.

The harness calls ``model.predict(image, instruction=..., task=..., **spec)`` and reads
``.answer`` (the decoded answer) and ``.generated`` (the RGB the generator drew) from the result:
the :class:`openbanana.pipeline.OpenBananaPipeline` does this, and so do

- :class:`OracleModel`: draws the ground truth with the task's colour code
  (``openbanana.encode``), optionally resizes it to a "generation resolution" and adds Gaussian RGB
  noise (the noisy oracle), and decodes it back (``openbanana.decode``). With no noise it scores
  at the colour code's own precision, so it checks the whole harness path (data, prompts, decode,
  resize, metrics, gathering) with known answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

import openbanana
from openbanana.data.sources.base import DataSource, Record, Target
from openbanana.evaluation.resize import resize_masks, resize_nearest
from openbanana.tasks import TASKS

#: pipeline keywords about sampling, not about the task (the oracle ignores them)
SAMPLING_KEYS = frozenset(
    {
        "num_inference_steps",
        "ensemble_size",
        "one_step",
        "generator",
        "guidance_text",
        "guidance_image",
        "resize_mode",
        "batch_size",
        "output_type",
    }
)


@dataclass
class EvalPrediction:
    """The fields the harness reads from a prediction (same names as the pipeline's Prediction)."""

    task: str
    instruction: str | None
    generated: np.ndarray | None  # uint8 (h, w, 3), at generation resolution here
    answer: Any
    valid: np.ndarray | None = None
    uncertainty: np.ndarray | None = None


class EvalModel(Protocol):
    def predict(
        self, image: np.ndarray, instruction: str | None = None, task: str = "depth", **spec: Any
    ) -> Any: ...


def image_key(image: np.ndarray) -> str:
    """Content hash of an image (how the oracle finds the record it is shown)."""
    a = np.ascontiguousarray(image)
    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()


def _oracle_target_for_encoding(t: Target) -> Any:
    """Ground truth made encodable: pixels without ground truth get a neutral value (never scored),
    as the target's task says (:meth:`openbanana.tasks.Task.encodable`)."""
    return TASKS.get(t.task).encodable(t.gt)


class OracleModel:
    """Answers each question with its ground truth passed through the colour code.

    Args:
        source: the data source being evaluated (the oracle looks records up by image content).
        noise_sigma: std of Gaussian noise added to the encoded RGB (0 = exact oracle).
        generation_size: ``(h, w)`` to draw at (nearest resize of the ground truth); None = GT size.
        seed: noise seed (noise for a record depends only on the seed and the image).
        transform: optional ``(task, gt) -> gt`` applied before encoding (a known, deliberate error,
            e.g. depth 10% too far) so tests can check metrics against hand-computed values.
        through_code: False skips the colour code (answers = transformed ground truth, exactly).
    """

    def __init__(
        self,
        source: DataSource,
        noise_sigma: float = 0.0,
        generation_size: tuple[int, int] | None = None,
        seed: int = 0,
        transform: Any = None,
        through_code: bool = True,
    ):
        self.source = source
        self.noise_sigma = float(noise_sigma)
        self.generation_size = generation_size
        self.seed = seed
        self.transform = transform
        self.through_code = through_code
        self._index: dict[str, int] = {}
        self._scanned = 0
        self._last: tuple[str, Record] | None = None

    def _record(self, image: np.ndarray) -> Record:
        """The source record showing ``image``: scanned forward lazily, the last one cached."""
        key = image_key(image)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        while key not in self._index and self._scanned < len(self.source):
            i, self._scanned = self._scanned, self._scanned + 1
            try:
                rec = self.source[i]
            except ValueError:  # an unreadable record: the runner reports it itself
                continue
            self._index[image_key(rec.image)] = i
        if key not in self._index:
            raise ValueError("oracle: expected an image from its data source, got an unknown image")
        rec = self.source[self._index[key]]
        self._last = (key, rec)
        return rec

    def _find(self, image: np.ndarray, task: str, spec: dict[str, Any]) -> Target:
        """The record's target asked about: the same task and the same value for every key of its
        spec. Keys only the question has (an answer format such as ``EvalOptions.task_spec``'s depth
        colormap) are not matched: the oracle answers in them."""
        rec = self._record(image)
        for t in rec.targets:
            if t.task == task and all(_same(t.spec[k], v) for k, v in spec.items() if k in t.spec):
                return t
        if task == "referring":  # a reasoning query rewritten into a referring expression
            rest = [t for t in rec.targets if t.task == "reasoning"]
            if len(rest) == 1:
                return rest[0]
        raise ValueError(f"oracle: record {rec.id} has no {task} target with spec {sorted(spec)}")

    def predict(self, image: np.ndarray, instruction: str | None = None, task: str = "depth", **spec: Any):
        """Encode the matching ground truth, optionally resize and add noise, decode it back.
        Sampling keywords of the pipeline (steps, ensembles) mean nothing here and are ignored."""
        spec = {k: v for k, v in spec.items() if k not in SAMPLING_KEYS}
        target = self._find(image, task, spec)
        gt = _oracle_target_for_encoding(target)
        if self.transform is not None:
            gt = self.transform(target.task, gt)
        code_spec = (
            {k: v for k, v in target.spec.items() if k != "expressions"} if target.task != task else spec
        )
        if self.generation_size is not None:
            masks = openbanana.tasks.TASKS.get(task).answer_kind == "masks"
            gt = resize_masks(gt, self.generation_size) if masks else resize_nearest(gt, self.generation_size)
        if not self.through_code:
            return EvalPrediction(task=task, instruction=instruction, generated=None, answer=gt)
        rgb = openbanana.encode(task, gt, **code_spec)
        if self.noise_sigma > 0:
            rng = np.random.default_rng([self.seed, int(image_key(image)[:8], 16)])
            noisy = rgb.astype(np.float32) + rng.normal(0.0, self.noise_sigma, rgb.shape)
            rgb = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
        decoded = openbanana.decode(task, rgb, **code_spec)
        return EvalPrediction(task=task, instruction=instruction, generated=rgb, answer=decoded.value,
                              valid=decoded.valid)


def _plain(v: Any) -> Any:
    """Numbers, strings and nested lists only (tuples and arrays become lists) for comparison."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same(a: Any, b: Any) -> bool:
    return _plain(a) == _plain(b)
