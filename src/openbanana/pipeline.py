"""The inference pipeline: image(s) + instruction -> generated RGB -> decoded answer.

In the diffusers manner: one object that holds the generator and its inference defaults,
``from_pretrained`` / ``save_pretrained`` on a local directory, one ``__call__``, and output
dataclasses whose docstrings give every field's shape, unit and range::

    import openbanana
    pipe = openbanana.load_model()                         # the shipped default
    pred = pipe.predict("room.jpg", "estimate the depth")  # Prediction
    pred.answer                                            # float32 (H, W) metres
    out = pipe(images=[img1, img2], task="normals", ensemble_size=4, generator=torch.Generator().manual_seed(0))
    pipe.generate("a red ball on a wooden floor").images[0]
    pipe.edit(img, "make the sofa blue").images[0]

Directory layout (see :mod:`openbanana.pipeline_config`)::

    DIR/pipeline.json               PipelineConfig: backend name, resolution, inference defaults
    DIR/backend/config.json         the backend's own config
    DIR/backend/model.safetensors   weights (safetensors only; nothing is ever unpickled)

What happens in ``__call__`` (numbered as in the code):

1. inputs are checked (:meth:`OpenBananaPipeline.check_inputs`, one concern per line) and loaded
   through :func:`openbanana.io.load_image` (paths, bytes, PIL images of any mode, arrays);
2. each instruction is routed to a task (:func:`openbanana.tasks.router.detect_task`), or the
   given ``task`` is used with its canonical instruction; instructions that name no vision task
   are editing (with an image) or text-to-image (without);
3. images are resized to the model's square resolution (``resize_mode``: ``"stretch"`` by
   default or ``"letterbox"``; see :mod:`openbanana.pipeline_ops`);
4. the backend samples: dense tasks in the deterministic one-step mode by default (the model's
   config), generation and editing with ``num_inference_steps`` Euler steps; an ensemble repeats
   each item ``ensemble_size`` times with the N-step sampler;
5. each sample is decoded at model resolution with the task's colour code
   (:func:`openbanana.tasks.decode`), ensemble members are combined with a per-pixel uncertainty;
6. answers and the generated image are resized back to the input's size (continuous maps
   bilinearly and renormalised, labels, ids and masks by nearest neighbour).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from openbanana.backends import BACKENDS
from openbanana.data.synthetic.targets import SCENE_TARGETS
from openbanana.errors import InstructionError, OpenBananaError, quoted
from openbanana.io import load_image
from openbanana.pipeline_config import PipelineConfig, backend_dir
from openbanana.pipeline_ops import (
    RESIZE_MODES,
    Placement,
    combine_answers,
    from_model_tensor,
    resize_answer,
    resize_image_back,
    resize_scalar_map,
    to_model_frame,
    to_model_tensor,
)
from openbanana.tasks.answers import Answer, AnswerKind
from openbanana.tasks.generation import GENERATION_TASKS
from openbanana.tasks.router import detect_task

#: where ``load_model()`` looks for the model shipped with the package
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights" / "default"
OUTPUT_TYPES = ("np", "pil")


# ============================================================================ outputs
@dataclass
class Prediction:
    """One image's result.

    Attributes:
        task: task name (``"depth"``, ``"normals"``, ``"semantic"``, ``"instance"``,
            ``"referring"``, ``"reasoning"``, or ``"edit"`` / ``"t2i"`` for pure generation).
        instruction: the exact text the model was given.
        generated: the generated RGB image at the input's size: uint8 ``(H, W, 3)`` in 0-255
            (a ``PIL.Image.Image`` of that size when ``output_type="pil"``). For ``"t2i"`` the
            size is the model resolution. With an ensemble, the first member.
        raw: the generated image at model resolution, uint8 ``(S, S, 3)``: the exact pixels that
            were decoded (before any resizing; with an ensemble, the first member).
        answer: the decoded answer at the input's size ``(H, W)``, or None for generation:

            - depth: float32 ``(H, W)`` metric depth in metres, >= 0 (white, "infinitely far",
              decodes to the codec's large finite cap); NaN where ``valid`` is False;
            - normals: float32 ``(H, W, 3)`` unit vectors in the paper's camera frame
              (+x right, +y up, +z toward the viewer), components in [-1, 1]; zeros where invalid;
            - semantic: int32 ``(H, W)`` label ids indexing :attr:`class_names`, 255 = void
              (no palette colour matched, e.g. black background);
            - instance: int32 ``(H, W)`` instance ids, 0 = background, 1..N the instances;
            - referring / reasoning: bool ``(N, H, W)``, one mask per requested colour (in the
              order of ``spec["colors"]``).
        valid: bool ``(H, W)`` pixels where the answer is defined, for every vision task (None only
            for generation): depth, finite predictions in the codec's range (>= 0 m); normals, unit
            vectors; labels, instance ids and masks, every pixel (void and background are answers).
        uncertainty: float32 ``(H, W)`` per-pixel spread of an ensemble (``ensemble_size > 1``),
            else None. Depth: relative median absolute deviation (unitless, >= 0); normals: mean
            angle to the combined normal in degrees (0-180); labels: share of members voting for
            another label (0-1); masks: the largest share of members disagreeing over the masks
            (0-0.5); instances: share of members disagreeing on foreground (0-1).
        class_names: for semantic, the class name of each label id (``class_names[i]`` for label
            i); for instance, the one class asked for; else None.
        spec: what the instruction specified and was decoded with (``palette``:
            {class: (r, g, b)}, ``colors``: [(r, g, b), ...], ``background``: (r, g, b),
            ``colormap``: name, ...).
        ensemble_size: number of samples combined.
    """

    task: str
    instruction: str
    generated: Any
    raw: np.ndarray
    answer: Any = None
    valid: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    class_names: list[str] | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    ensemble_size: int = 1

    @property
    def empty(self) -> bool:
        """Whether the answer holds nothing: semantic labels all void, no instance, no referring or
        reasoning mask with a pixel, no valid depth or normal. False for generation."""
        return answer_emptiness(self)[0]

    @property
    def empty_reason(self) -> str | None:
        """Why the answer, or a part of it (one mask of several), is empty, in words; else None."""
        return answer_emptiness(self)[1]


def answer_emptiness(pred: Any) -> tuple[bool, str | None]:
    """``(whole answer empty, why in words)`` for a :class:`Prediction` (or an object with its
    ``task``, ``answer``, ``valid``, ``spec`` and ``class_names``). The reason is also given when
    only some masks of a multi-target answer are empty (then the first value is False)."""
    if pred.answer is None:
        return False, None
    a = np.asarray(pred.answer)
    kind = _tasks_module().answer_kind(pred.task, a)
    if kind == "masks":
        return _masks_emptiness(a, pred.spec or {})
    if kind == "instances":
        return (True, "no instance: every pixel is background") if not (a > 0).any() else (False, None)
    if kind == "labels" or (kind is None and np.issubdtype(a.dtype, np.integer)):
        n = len(pred.class_names or [])
        return (True, f"every pixel is void: none of the {n} class colours was drawn") if (a == 255).all() \
            else (False, None)
    what = "depth" if a.ndim == 2 else "normal"
    valid = np.isfinite(a) if pred.valid is None else np.asarray(pred.valid, bool)
    return (True, f"no pixel has a valid {what}") if not valid.any() else (False, None)


def _masks_emptiness(masks: np.ndarray, spec: dict[str, Any]) -> tuple[bool, str | None]:
    hits = masks.reshape(len(masks), -1).any(axis=1)
    if hits.all():
        return False, None
    colors = list(spec.get("colors") or [(255, 0, 0)])
    names = list(spec.get("expressions") or [])
    if not hits.any():
        shown = ", ".join(str(tuple(int(v) for v in c)) for c in colors[: len(masks)])
        return True, f"no pixel has the target colour{'s' if len(masks) > 1 else ''} {shown}"
    missing = [quoted(names[i]) if i < len(names) else f"mask {i}" for i in np.flatnonzero(~hits)]
    return False, f"no pixel for {', '.join(missing)} ({len(missing)} of {len(masks)} masks empty)"


@dataclass
class PipelineOutput:
    """The result of one pipeline call: one :class:`Prediction` per input image (or per prompt).

    Attributes:
        predictions: the per-image results, in input order.
        images: the generated images, ``predictions[i].generated`` (uint8 ``(H, W, 3)`` arrays,
            or PIL images with ``output_type="pil"``), in input order.
    """

    predictions: list[Prediction]
    images: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.images:
            self.images = [p.generated for p in self.predictions]

    @property
    def answers(self) -> list[Any]:
        """``predictions[i].answer`` for every i."""
        return [p.answer for p in self.predictions]

    def __len__(self) -> int:
        return len(self.predictions)

    def __getitem__(self, i: int) -> Prediction:
        return self.predictions[i]

    def __iter__(self) -> Iterator[Prediction]:
        return iter(self.predictions)


@dataclass
class _Item:
    """One request after routing (internal)."""

    task: str
    instruction: str
    spec: dict[str, Any]
    image: np.ndarray | None
    placement: Placement | None = None
    frame: np.ndarray | None = None


# ============================================================================ helpers
def _backend_class(name: str) -> type:
    if name not in BACKENDS:
        # backends register on import; try the module named after the key (``flux2-klein`` -> flux2_klein)
        module = f"openbanana.backends.{name.replace('-', '_')}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the backend exists but one of its dependencies is missing
                raise OpenBananaError(f"backend {name!r} needs a package that is not installed: {exc}; "
                                      "install the extra it belongs to (e.g. pip install 'openbanana[frontier]')"
                                      ) from None
        except ImportError as exc:
            raise OpenBananaError(f"backend {name!r} could not be imported: {exc}") from None
    return BACKENDS.get(name)


def _tasks_module() -> Any:
    return importlib.import_module("openbanana.tasks")


def _as_list(x: Any) -> list[Any]:
    """A list of items; a 4-D array or tensor is a batch of images ``(B, H, W, C)`` / ``[B, C, H, W]``."""
    if isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim == 4:
        return list(x)
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _to_image(x: Any) -> np.ndarray:
    """Any accepted image -> uint8 (H, W, 3) via the project's one loader."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.dim() == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 3, 4):
            t = t.permute(1, 2, 0)  # CHW -> HWC (the torch convention)
        x = t.numpy()
    return load_image(x)


def _numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def _split_decoded(decoded: Answer) -> tuple[np.ndarray, np.ndarray | None]:
    """A decoded :class:`Answer` -> ``(answer, valid or None)`` as numpy. A masks answer must be
    ``(N, H, W)``: the task says what it returns, nothing is reshaped here."""
    answer, valid = np.asarray(_numpy(decoded.value)), _numpy(decoded.valid)
    if decoded.kind == "masks" and answer.ndim != 3:
        raise ValueError(f"task {decoded.task!r} decoded masks of shape {answer.shape}; expected (N, H, W)")
    return answer, None if valid is None else np.asarray(valid, bool)


def _valid_mask(kind: AnswerKind, answer: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """bool ``(H, W)`` where a resized answer is defined: depth finite and >= 0, normals finite
    and of unit length, and every pixel of labels, ids and masks."""
    a = np.asarray(answer)
    hw = a.shape[1:] if kind == "masks" else a.shape[:2]
    v = np.ones(hw, bool) if valid is None else np.asarray(valid, bool).copy()
    if kind == "depth":
        with np.errstate(invalid="ignore"):
            v &= np.isfinite(a) & (a >= 0)
    elif kind == "normals":
        v &= np.isfinite(a).all(axis=-1) & (np.linalg.norm(np.nan_to_num(a), axis=-1) > 0.5)
    return v


def default_spec(task: str) -> dict[str, Any]:
    """Spec used with a task's canonical instruction when the caller gives none: what the default
    model was trained on (:meth:`~openbanana.data.synthetic.targets.SceneTargets.default_spec`).

    ``semantic``: the synthetic world's fixed palette over every class (as Cityscapes uses one
    fixed prompt). ``instance``: the position colour scheme (only drawings of the truth use it; the
    decoder ignores colours). Other tasks: ``{}`` (their own defaults: paper depth colours, black
    backgrounds, red targets).
    """
    return SCENE_TARGETS.get(task).default_spec() if task in SCENE_TARGETS else {}


def resolve_request(instruction: str | None, task: str | None, has_image: bool,
                    spec: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """Decide the task, the instruction text and the spec of one request (no model needed, so a
    surface can check a request before loading one).

    Args:
        instruction: free text, or None to use the task's canonical instruction.
        task: a task name, or None to read it from the instruction.
        has_image: whether an input image is given (free instructions then mean editing).
        spec: explicit spec (``palette=``, ``colors=``, ``background=``, ``colormap=``,
            ``category=``, ``expressions=`` ...); wins over what the instruction says.

    Returns:
        ``(task_name, instruction, spec)``.

    Raises:
        InstructionError: the instruction names a task but its spec cannot be parsed, or the task
            has no canonical instruction without one (referring and reasoning need their targets).
    """
    spec = dict(spec or {})
    if task in GENERATION_TASKS:
        return task, instruction or "", spec
    tasks = _tasks_module()
    if task is not None:
        t = tasks.TASKS.get(task)
        if instruction is None:
            spec = {**default_spec(task), **spec}
            return task, _canonical_instruction(t, task, spec), spec
        # the task's own parser reads the spec (its error says what the text lacks)
        parse = getattr(t, "spec_from_instruction", None)
        parsed_spec = parse(instruction) if parse is not None and not t.spec_complete(spec) else {}
        return task, instruction, {**default_spec(task), **parsed_spec, **spec}
    parsed = _route_instruction(instruction, has_image)
    if parsed is None:
        return ("edit" if has_image else "t2i"), instruction, spec
    return parsed[0], instruction, {**parsed[1], **spec}


def _canonical_instruction(t: Any, task: str, spec: dict[str, Any]) -> str:
    """The task's own instruction for ``spec``; a task that cannot write one without its targets
    (referring, reasoning) says what to give instead."""
    try:
        return t.instruction(None, **spec)
    except InstructionError:
        if t.needs_instruction and not spec.get("expressions"):
            raise InstructionError(
                f"task {task!r} needs an instruction naming what to segment (e.g. 'highlight the red car') "
                "or expressions=['the red car']"
            ) from None
        raise


def _route_instruction(instruction: str, has_image: bool) -> tuple[str, dict[str, Any]] | None:
    """The router's (task, spec) for a vision instruction, or None for generation/editing."""
    req = detect_task(instruction, has_image=has_image)
    name = getattr(req, "task", None) if req is not None else None
    if name is not None and not isinstance(name, str):
        name = getattr(name, "name", None)
    if name is None or name in GENERATION_TASKS or name not in _tasks_module().TASKS:
        return None
    return name, dict(getattr(req, "spec", None) or {})


# ============================================================================ pipeline
class OpenBananaPipeline:
    """Image(s) + instruction -> generated RGB + decoded answer, with one generator for every task.

    Args:
        backend: a :class:`~openbanana.backends.base.GeneratorBackend` (e.g. ``TinyBackend``).
        config: the pipeline config (resolution, inference defaults); default
            ``PipelineConfig(backend=backend.name)``.
    """

    def __init__(self, backend: Any, config: PipelineConfig | None = None) -> None:
        self.backend = backend
        self.config = config or PipelineConfig(backend=getattr(backend, "name", "tiny"))
        if hasattr(backend, "eval"):
            backend.eval()

    # ------------------------------------------------------------------ files
    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device = "cpu") -> OpenBananaPipeline:
        """Load a pipeline directory written by :meth:`save_pretrained` or the training export.

        Raises:
            OpenBananaError: the directory is missing, incomplete or corrupt (the message says
                which file and what was expected).
        """
        p = Path(path)
        if not p.is_dir():
            raise OpenBananaError(f"model directory {p} does not exist (expected pipeline.json and backend/)")
        try:
            config = PipelineConfig.load(p)
        except FileNotFoundError as exc:
            raise OpenBananaError(str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise OpenBananaError(f"{p / 'pipeline.json'} is not a valid pipeline config: {exc}") from None
        backend_cls = _backend_class(config.backend)
        bdir = backend_dir(p)
        try:
            backend = backend_cls.from_pretrained(bdir, device=device)
        except FileNotFoundError as exc:
            raise OpenBananaError(f"incomplete model directory {p}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 -- corrupt weights surface as one clear error
            raise OpenBananaError(
                f"could not load the {config.backend!r} weights in {bdir}: {type(exc).__name__}: {exc}"
            ) from None
        return cls(backend, config)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write ``pipeline.json`` and ``backend/`` (config JSON + safetensors) to directory ``path``."""
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        self.config.save(p)
        self.backend.save_pretrained(backend_dir(p))
        return p

    # ------------------------------------------------------------------ device
    @property
    def device(self) -> torch.device:
        try:
            return next(self.backend.parameters()).device
        except (AttributeError, StopIteration):
            return torch.device("cpu")

    def to(self, device: str | torch.device) -> OpenBananaPipeline:
        self.backend.to(device)
        return self

    @property
    def resolution(self) -> int:
        """Square side in pixels the model works at."""
        return self.config.resolution

    # ------------------------------------------------------------------ checks
    def check_inputs(
        self,
        images: Any,
        instruction: Any,
        task: Any,
        num_inference_steps: Any,
        ensemble_size: Any,
        guidance_text: Any,
        guidance_image: Any,
        output_type: Any,
        resize_mode: Any,
        batch_size: Any,
        mirror: Any = None,
    ) -> None:
        """Fail loudly, one concern per line: a TypeError when only types are wrong, else ValueError."""
        type_errors: list[str] = []
        value_errors: list[str] = []
        n_img = None if images is None else len(_as_list(images))
        if n_img == 0:
            value_errors.append("images: got an empty list; pass at least one image or None for text-to-image")
        if instruction is not None:
            instr = _as_list(instruction)
            if not instr:
                value_errors.append("instruction: got an empty list")
            for s in instr:
                if not isinstance(s, str):
                    type_errors.append(f"instruction: expected str or list of str, got {type(s).__name__}")
                    break
            else:
                if any(not s.strip() for s in instr):
                    value_errors.append("instruction: got an empty string")
            if n_img and len(instr) not in (1, n_img):
                value_errors.append(f"instruction: got {len(instr)} instructions for {n_img} images (pass 1 or {n_img})")
        if task is not None and not isinstance(task, str):
            type_errors.append(f"task: expected a task name (str), got {type(task).__name__}")
        elif task is not None and task not in GENERATION_TASKS:
            tasks = _tasks_module()
            if task not in tasks.TASKS:
                value_errors.append(
                    f"task: unknown task {task!r}; expected one of {', '.join([*tasks.TASKS.names(), *GENERATION_TASKS])}"
                )
        if task is None and instruction is None:
            value_errors.append("instruction/task: give an instruction, a task, or both")
        if task in GENERATION_TASKS and instruction is None:
            value_errors.append(f"instruction: task {task!r} needs an instruction saying what to draw or change")
        if images is None and task is not None and task != "t2i":
            value_errors.append(f"images: task {task!r} needs an input image")
        if images is not None and task == "t2i":
            value_errors.append("images: text-to-image takes no input image (use task='edit' or images=None)")
        for name, v, lo in (("num_inference_steps", num_inference_steps, 1), ("ensemble_size", ensemble_size, 1),
                            ("batch_size", batch_size, 1)):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                type_errors.append(f"{name}: expected an int, got {type(v).__name__}")
            elif v < lo:
                value_errors.append(f"{name}: must be >= {lo}, got {v}")
        for name, v in (("guidance_text", guidance_text), ("guidance_image", guidance_image)):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                type_errors.append(f"{name}: expected a float, got {type(v).__name__}")
            elif not math.isfinite(v) or v < 0:
                value_errors.append(f"{name}: must be a finite float >= 0, got {v}")
        if mirror is not None and not isinstance(mirror, (bool, np.bool_)):
            type_errors.append(f"mirror: expected True, False or None, got {type(mirror).__name__}")
        if output_type not in OUTPUT_TYPES:
            value_errors.append(f"output_type: expected one of {OUTPUT_TYPES}, got {output_type!r}")
        if resize_mode not in RESIZE_MODES:
            value_errors.append(f"resize_mode: expected one of {RESIZE_MODES}, got {resize_mode!r}")
        if value_errors:
            raise ValueError("invalid pipeline inputs:\n  " + "\n  ".join(value_errors + type_errors))
        if type_errors:
            raise TypeError("invalid pipeline inputs:\n  " + "\n  ".join(type_errors))

    # ------------------------------------------------------------------ routing
    def resolve(self, instruction: str | None, task: str | None, has_image: bool,
                spec: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
        """Decide the task, the instruction text and the spec of one request
        (:func:`resolve_request`, which needs no model)."""
        return resolve_request(instruction, task, has_image, spec)

    @staticmethod
    def _route(instruction: str, has_image: bool) -> tuple[str, dict[str, Any]] | None:
        """The router's (task, spec) for a vision instruction, or None for generation/editing."""
        return _route_instruction(instruction, has_image)

    # ------------------------------------------------------------------ call
    @torch.no_grad()
    def __call__(
        self,
        images: Any = None,
        instruction: str | Sequence[str] | None = None,
        *,
        task: str | None = None,
        num_inference_steps: int | None = None,
        ensemble_size: int | None = None,
        guidance_text: float | None = None,
        guidance_image: float | None = None,
        generator: torch.Generator | None = None,
        output_type: str = "np",
        one_step: bool | None = None,
        mirror: bool | None = None,
        resize_mode: str = "stretch",
        batch_size: int = 8,
        **spec: Any,
    ) -> PipelineOutput:
        """Run the model on image(s) with an instruction (or a task), or generate from text.

        Args:
            images: None (text-to-image), one image, or a list. An image is a path, bytes, a PIL
                image of any mode, a uint8 ``(H, W[, 3|4])`` array, a float array in [0, 1], or a
                torch tensor (``(3, H, W)`` or ``(H, W, 3)``); any size and aspect ratio. A 4-D
                array ``(B, H, W, C)`` or tensor ``[B, C, H, W]`` is a batch.
            instruction: one instruction for all images, or one per image; None uses the task's
                canonical instruction.
            task: a task name (``openbanana.tasks.TASKS``, or ``"edit"`` / ``"t2i"``); None reads
                it from the instruction.
            num_inference_steps: Euler steps for the N-step sampler (default: the model's config).
            ensemble_size: samples combined per image for vision tasks (K >= 1; default: the
                config's); K > 1 samples with the N-step sampler (the one-step mode is
                deterministic) and fills ``uncertainty``. Generation and editing draw one sample.
            guidance_text, guidance_image: classifier-free guidance scales (default: config).
            generator: a seeded ``torch.Generator`` for reproducible noise.
            output_type: ``"np"`` (uint8 arrays) or ``"pil"`` (PIL images) for ``generated``.
            one_step: force (True) or forbid (False) the deterministic one-step mode for dense
                tasks; None follows the config (one-step for dense tasks unless ensembling).
            mirror: also answer each image's left-right mirror for the tasks whose answers
                mirror (depth, normals: :attr:`openbanana.tasks.Task.mirrorable`), turn that
                answer back and combine the two (a test-time flip: twice the samples, and
                ``uncertainty`` is their disagreement). None follows the config's ``mirror_dense``.
            resize_mode: ``"stretch"`` or ``"letterbox"`` (see :mod:`openbanana.pipeline_ops`).
            batch_size: samples per forward pass.
            **spec: task spec overriding the instruction (``palette=``, ``colors=``,
                ``background=``, ``colormap=``, ...).

        Returns:
            :class:`PipelineOutput` with one :class:`Prediction` per image (per prompt for
            text-to-image).
        """
        # 1. check and load
        self.check_inputs(images, instruction, task, num_inference_steps, ensemble_size, guidance_text,
                          guidance_image, output_type, resize_mode, batch_size, mirror)
        inf = self.config.inference
        steps = int(num_inference_steps or inf.num_inference_steps)
        g_text = inf.guidance_text if guidance_text is None else float(guidance_text)
        g_image = inf.guidance_image if guidance_image is None else float(guidance_image)
        K = int(inf.ensemble_size if ensemble_size is None else ensemble_size)
        use_mirror = bool(inf.mirror_dense if mirror is None else mirror)
        loaded = None if images is None else [_to_image(im) for im in _as_list(images)]
        n = len(loaded) if loaded is not None else len(_as_list(instruction))
        instructions = _as_list(instruction) if instruction is not None else [None]
        if len(instructions) == 1:
            instructions = instructions * n

        # 2. route each request to a task, 3. resize into the model frame
        S = self.resolution
        items: list[_Item] = []
        for i in range(n):
            img = loaded[i] if loaded is not None else None
            name, text, item_spec = self.resolve(instructions[i], task, img is not None, spec)
            if img is None and name != "t2i":
                raise InstructionError(
                    f"instruction {quoted(text)} asks for {name!r}, which needs an input image"
                )
            item = _Item(name, text, item_spec, img)
            if img is not None:
                item.frame, item.placement = to_model_frame(img, S, resize_mode)  # type: ignore[arg-type]
            items.append(item)

        # 4. sample (K ensemble members per vision item, twice that with mirrors; one per generation item)
        raws = self._sample(items, K, steps, g_text, g_image, generator, one_step, batch_size, use_mirror)

        # 5. decode and combine, 6. resize back
        preds = [self._finish(it, members, output_type) for it, members in zip(items, raws, strict=True)]
        return PipelineOutput(predictions=preds)

    def _sample(self, items: list[_Item], K: int, steps: int, g_text: float, g_image: float,
                generator: torch.Generator | None, one_step: bool | None, batch_size: int,
                mirror: bool = False) -> list[list[np.ndarray]]:
        """uint8 ``(S, S, 3)`` samples per item (K for vision tasks, 1 for generation; with
        ``mirror``, K more for mirrorable tasks, drawn for the mirrored input and turned back),
        generated in batches that share one sampling mode. An item's unmirrored samples come first."""
        S, dense = self.resolution, set(self.config.inference.dense_tasks)
        tasks = _tasks_module().TASKS
        rows: list[tuple[int, _Item, bool, bool]] = []  # (item, request, one-step, mirrored)
        for i, it in enumerate(items):
            k_i = 1 if it.task in GENERATION_TASKS else K
            if one_step is None:
                use_one = it.task in dense and self.config.inference.one_step_dense and k_i == 1
            else:
                use_one = bool(one_step) and it.task in dense
            flips = [False]
            if mirror and it.frame is not None and it.task in tasks and tasks.get(it.task).mirrorable:
                flips.append(True)
            rows += [(i, it, use_one, f) for f in flips for _ in range(k_i)]
        out: list[list[np.ndarray]] = [[] for _ in items]
        for mode in (True, False):
            for has_cond in (True, False):
                group = [r for r in rows if r[2] == mode and (r[1].frame is not None) == has_cond]  # in order
                for start in range(0, len(group), batch_size):
                    chunk = group[start:start + batch_size]
                    cond = None
                    if has_cond:
                        frames = [r[1].frame[:, ::-1] if r[3] else r[1].frame for r in chunk]  # [S, S, 3] each
                        cond = to_model_tensor([np.ascontiguousarray(f) for f in frames]).to(self.device)
                    x = self.backend.sample(
                        cond, [r[1].instruction for r in chunk], height=S, width=S,
                        num_inference_steps=1 if mode else steps, guidance_text=g_text,
                        guidance_image=g_image, generator=generator, one_step=mode,
                    )
                    for (i, it, _, flipped), img in zip(chunk, from_model_tensor(x), strict=True):
                        out[i].append(tasks.get(it.task).unmirror(img, **it.spec) if flipped else img)
        return out

    def _finish(self, it: _Item, raws: list[np.ndarray], output_type: str) -> Prediction:
        """Decode, combine and resize one item's K samples into a :class:`Prediction`."""
        raw = raws[0]
        generated = resize_image_back(raw, it.placement) if it.placement is not None else raw
        if output_type == "pil":
            generated = Image.fromarray(generated)
        pred = Prediction(task=it.task, instruction=it.instruction, generated=generated, raw=raw,
                          spec=dict(it.spec), ensemble_size=len(raws))
        if it.task in GENERATION_TASKS:
            return pred
        tasks = _tasks_module()
        t = tasks.TASKS.get(it.task)
        decoded = [_split_decoded(t.decode(r, **it.spec)) for r in raws]
        kind = t.answer_kind
        answer, valid, unc = combine_answers([d[0] for d in decoded], kind, [d[1] for d in decoded])
        pred.answer, resized_valid = resize_answer(answer, kind, it.placement, valid)
        pred.valid = _valid_mask(kind, pred.answer, resized_valid)
        if kind == "depth":
            pred.answer = np.where(pred.valid, pred.answer, np.float32(np.nan)).astype(np.float32)
        if unc is not None:
            pred.uncertainty, _ = resize_scalar_map(unc, it.placement)
        pred.class_names = t.class_names(it.spec)
        return pred

    # ------------------------------------------------------------------ shortcuts
    def predict(self, image: Any, instruction: str | None = None, *, task: str | None = None, **kwargs: Any
                ) -> Prediction:
        """One image, one instruction (or task) -> :class:`Prediction`. Keywords as :meth:`__call__`."""
        if isinstance(image, (list, tuple)):
            raise TypeError(f"predict takes one image; got a {type(image).__name__} (use the pipeline call for batches)")
        return self(image, instruction, task=task, **kwargs).predictions[0]

    def generate(self, prompt: str | Sequence[str], *, num_images_per_prompt: int = 1, **kwargs: Any
                 ) -> PipelineOutput:
        """Text-to-image at the model resolution. Keywords as :meth:`__call__`
        (``num_inference_steps``, ``guidance_text``, ``generator``, ``output_type``)."""
        prompts = [p for p in _as_list(prompt) for _ in range(int(num_images_per_prompt))]
        return self(None, prompts, task="t2i", **kwargs)

    def edit(self, image: Any, instruction: str | Sequence[str], **kwargs: Any) -> PipelineOutput:
        """Edit image(s) by instruction; the result is returned at each input's size."""
        return self(image, instruction, task="edit", **kwargs)

    def __repr__(self) -> str:
        return (f"OpenBananaPipeline(backend={self.config.backend!r}, resolution={self.resolution}, "
                f"device={self.device})")


def load_model(path: str | Path | None = None, *, device: str | torch.device = "cpu") -> OpenBananaPipeline:
    """The shipped default model (``path=None``) or any exported pipeline directory.

    Raises:
        OpenBananaError: no default model is installed, or the directory is missing or corrupt.
    """
    if path is None:
        if not (DEFAULT_MODEL_DIR / "pipeline.json").is_file():
            raise OpenBananaError(
                f"no default model is installed (expected {DEFAULT_MODEL_DIR}/pipeline.json); "
                "train one with `openbanana train` and pass its directory: load_model('runs/.../pipeline')"
            )
        path = DEFAULT_MODEL_DIR
    return OpenBananaPipeline.from_pretrained(path, device=device)
