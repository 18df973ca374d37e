"""The web demo: a Gradio app over one pipeline.

Tabs:

- **Vision tasks**: upload an image or pick a bundled example, choose a task or type any
  instruction (palettes in any notation: names, hex, tuples, JSON), then see the generated image
  beside its decoded view. Click the decoded view of a depth answer to read the depth at that
  pixel in metres.
- **Text to image**: a prompt in, an image out.
- **Edit**: an image and an edit instruction in, the edited image out.

Limits (all documented in ``docs/usage.md``; change them with the ``openbanana serve`` flags):

- binds ``127.0.0.1`` unless told otherwise (:data:`DEFAULT_HOST`);
- uploads larger than :data:`MAX_UPLOAD_BYTES` are refused by the server with HTTP 413;
- images with more than :data:`MAX_PIXELS` pixels, and every file :func:`openbanana.io.load_image`
  refuses (corrupt, truncated, non-images, decompression bombs), are answered with an error
  message, never a traceback;
- instructions longer than :data:`MAX_INSTRUCTION_CHARS` characters are refused;
- at most :data:`QUEUE_SIZE` requests wait in the queue (more are turned away) and
  :data:`CONCURRENCY` run at a time.

API names (for ``gradio_client``): ``/predict``, ``/depth_at``, ``/generate``, ``/edit``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from openbanana.errors import OpenBananaError
from openbanana.io.export import answer_kind, visualize
from openbanana.io.images import load_image
from openbanana.tasks import TASKS  # registers the built-in tasks on import

# gradio (optional, the serve extra) and torch are imported inside the functions: this module is loaded
# by `openbanana --help` (the demo's example images).

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: uploads above this many bytes are refused with HTTP 413 (10 MiB)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: images above this many pixels are refused (16 megapixels)
MAX_PIXELS = 16_000_000
#: requests allowed to wait in the queue
QUEUE_SIZE = 16
#: requests run at the same time
CONCURRENCY = 1
#: longest instruction or prompt accepted
MAX_INSTRUCTION_CHARS = 2000
#: the dropdown entry meaning "use the instruction as typed"
CUSTOM = "(instruction as typed)"

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"


def example_images() -> list[str]:
    """The bundled example images (paths), sorted by name."""
    if not EXAMPLES_DIR.is_dir():
        return []
    return [str(p) for p in sorted(EXAMPLES_DIR.glob("*.png"))]


def task_names() -> list[str]:
    """The vision tasks of the task registry, by name (the dropdown's entries)."""
    return TASKS.names()


class Demo:
    """The demo's handlers, plain methods over a pipeline (tested without a browser or server).

    Every handler turns user errors into :class:`gradio.Error` messages (never tracebacks).
    """

    def __init__(self, pipe: Any, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.pipe = pipe
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes

    # ----------------------------------------------------------------- helpers
    def _error(self, exc: BaseException) -> Exception:
        import gradio as gr

        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, (OpenBananaError, ValueError, TypeError)):
            return gr.Error(str(exc), print_exception=False)
        return gr.Error(f"internal error ({type(exc).__name__}); the server log has details")

    def load(self, path: str | None) -> np.ndarray:
        """Load an uploaded file through the project's one loader, with the demo's caps."""
        if not path:
            raise OpenBananaError("upload an image or pick an example first")
        try:
            return load_image(path, max_pixels=self.max_pixels, max_bytes=self.max_bytes)
        except OpenBananaError as exc:
            # name the file as the user knows it, not by the server's upload folder
            raise OpenBananaError(str(exc).replace(str(path), Path(path).name)) from None

    def _text(self, text: str | None, what: str) -> str | None:
        text = (text or "").strip()
        if len(text) > MAX_INSTRUCTION_CHARS:
            raise OpenBananaError(
                f"{what} is {len(text)} characters long; the demo accepts {MAX_INSTRUCTION_CHARS}"
            )
        return text or None

    def _kwargs(self, steps: float | None, seed: float | None) -> dict[str, Any]:
        import torch

        kw: dict[str, Any] = {}
        if steps:
            if not 1 <= int(steps) <= 100:
                raise OpenBananaError(f"steps must lie in 1..100, got {steps}")
            kw["num_inference_steps"] = int(steps)
        if seed is not None and seed != "":
            kw["generator"] = torch.Generator().manual_seed(int(seed))
        return kw

    # ----------------------------------------------------------------- handlers
    def predict(
        self,
        path: str | None,
        task: str | None,
        instruction: str | None,
        steps: float | None = None,
        seed: float | None = None,
    ) -> tuple[Any, Any, str, Any]:
        """Run a task (or the typed instruction) on an image.

        Returns:
            (generated uint8 image, decoded view uint8 image, a Markdown summary, the state
            the click handler reads: ``{"kind", "answer"}``).
        """
        try:
            image = self.load(path)
            instr = self._text(instruction, "the instruction")
            task_name = None if task in (None, "", CUSTOM) else task
            if task_name is None and instr is None:
                raise OpenBananaError("choose a task or type an instruction")
            if task_name in TASKS and TASKS.get(task_name).needs_instruction and instr is None:
                raise OpenBananaError(
                    f"the {task_name} task needs an instruction saying what to segment, "
                    "e.g. 'segment the red car in (255, 0, 0)'"
                )
            pred = self.pipe.predict(image, instr, task=task_name, **self._kwargs(steps, seed))
            kind = answer_kind(pred.task, pred.answer)
            view = None
            if kind is not None:
                view = visualize(
                    kind,
                    pred.answer,
                    valid=getattr(pred, "valid", None),
                    spec=getattr(pred, "spec", None),
                    image=image,
                )
            summary = _summary(pred, kind, image.shape)
            state = {"kind": kind, "answer": None if kind != "depth" else np.asarray(pred.answer, np.float32)}
            return pred.generated, view, summary, state
        except Exception as exc:  # noqa: BLE001 -- every failure becomes a message
            raise self._error(exc) from None

    def depth_at(self, state: dict | None, x: int, y: int) -> str:
        """The depth readout for pixel (x, y) of the last depth answer."""
        import gradio as gr

        if not state or state.get("kind") != "depth" or state.get("answer") is None:
            return "Run the depth task first, then click the decoded view to read a depth."
        depth = np.asarray(state["answer"])
        h, w = depth.shape
        if not (0 <= x < w and 0 <= y < h):
            raise gr.Error(f"pixel ({x}, {y}) lies outside the {w}x{h} image", print_exception=False)
        d = float(depth[int(y), int(x)])
        if not np.isfinite(d):
            return f"depth at ({x}, {y}): invalid"
        return f"depth at ({x}, {y}) = {d:.2f} m"

    def on_select(self, state: dict | None, evt: Any) -> str:
        x, y = evt.index[:2]
        return self.depth_at(state, int(x), int(y))

    def generate(self, prompt: str | None, steps: float | None = None, seed: float | None = None) -> Any:
        try:
            text = self._text(prompt, "the prompt")
            if text is None:
                raise OpenBananaError("type a prompt first")
            return _generated(self.pipe.generate(text, **self._kwargs(steps, seed)))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from None

    def edit(
        self, path: str | None, instruction: str | None, steps: float | None = None, seed: float | None = None
    ) -> Any:
        try:
            image = self.load(path)
            text = self._text(instruction, "the edit instruction")
            if text is None:
                raise OpenBananaError("type an edit instruction first")
            return _generated(self.pipe.edit(image, text, **self._kwargs(steps, seed)))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc) from None


def _generated(out: Any) -> np.ndarray:
    """The first generated image of a PipelineOutput (or a Prediction, or an array)."""
    if hasattr(out, "predictions"):
        out = out.predictions[0]
    return np.asarray(getattr(out, "generated", out), dtype=np.uint8)


def _summary(pred: Any, kind: str | None, shape: tuple[int, ...]) -> str:
    lines = [f"**task**: `{pred.task}`  ", f"**instruction**: {pred.instruction}  "]
    a = pred.answer
    if kind == "depth":
        d = np.asarray(a)
        ok = np.isfinite(d) & (d > 0)
        if ok.any():
            lines.append(
                f"**depth**: {d[ok].min():.2f} to {d[ok].max():.2f} m, median {np.median(d[ok]):.2f} m  "
            )
        lines.append("Click the decoded view to read the depth at a pixel.")
    elif kind == "masks":
        lines.append(f"**masks**: {len(a)}, covering {', '.join(f'{m.mean():.1%}' for m in np.asarray(a))}")
    elif kind in ("labels", "instances"):
        vals = np.unique(np.asarray(a))
        lines.append(f"**{kind}**: {len([v for v in vals if v != 255])} distinct values")
    lines.append(f"image {shape[1]}x{shape[0]}")
    return "  \n".join(line.rstrip() for line in lines)


def build_app(
    pipe: Any,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_UPLOAD_BYTES,
    queue_size: int = QUEUE_SIZE,
) -> Any:
    """Build the Gradio Blocks app (not launched). See :func:`launch` for the upload cap."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    def upload_image(**kwargs: Any) -> Any:
        """A gr.Image whose upload reaches our loader untouched: gradio's own preprocessing opens
        the file with PIL first, which would turn bad files into an opaque error. (Patched on the
        instance: subclassing a gradio component makes gradio write a .pyi file beside this one.)"""
        comp = gr.Image(type="filepath", sources=["upload"], **kwargs)
        comp.preprocess = lambda payload: None if payload is None else payload.path
        return comp

    demo_ = Demo(pipe, max_pixels=max_pixels, max_bytes=max_bytes)
    tasks = task_names()
    # uploads and results live in Gradio's cache folder: files older than an hour are deleted hourly
    with gr.Blocks(title="openbanana", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(
            "# openbanana\nOne image generator for every vision task: each answer is drawn as an "
            "image in a fixed colour code and decoded back into numbers."
        )
        with gr.Tab("Vision tasks"):
            with gr.Row():
                with gr.Column():
                    image_in = upload_image(label="Input image", elem_id="input-image", height=300)
                    examples = example_images()
                    if examples:
                        gr.Examples(examples=[[p] for p in examples], inputs=[image_in], label="Examples")
                    task = gr.Dropdown(
                        [*tasks, CUSTOM], value=tasks[0] if tasks else CUSTOM, label="Task", elem_id="task"
                    )
                    instruction = gr.Textbox(
                        label="Instruction (optional with a task; palettes in any notation)",
                        lines=2,
                        placeholder='e.g. "Semantic segmentation: the sky is #4682B4, the road is (128, 64, 128)"',
                        elem_id="instruction",
                    )
                    with gr.Row():
                        steps = gr.Slider(0, 100, value=0, step=1, label="Steps (0: model default)")
                        seed = gr.Number(label="Seed", value=0, precision=0)
                    run = gr.Button("Run", variant="primary", elem_id="run")
                with gr.Column():
                    with gr.Row():
                        generated = gr.Image(
                            label="Generated image",
                            type="numpy",
                            interactive=False,
                            elem_id="generated",
                            format="png",
                        )
                        view = gr.Image(
                            label="Decoded view (click for depth)",
                            type="numpy",
                            interactive=False,
                            elem_id="decoded",
                            format="png",
                        )
                    readout = gr.Textbox(label="Depth at pixel", interactive=False, elem_id="depth-readout")
                    summary = gr.Markdown(elem_id="summary")
            state = gr.State(None)
            run.click(
                demo_.predict,
                [image_in, task, instruction, steps, seed],
                [generated, view, summary, state],
                api_name="predict",
            )

            def _select(st, evt):
                return demo_.on_select(st, evt)

            # gradio finds the event argument by its annotation (a class, not this module's strings)
            _select.__annotations__ = {"evt": gr.SelectData}

            view.select(_select, [state], [readout], api_name=False)
            hidden_x = gr.Number(visible=False, precision=0)
            hidden_y = gr.Number(visible=False, precision=0)
            gr.Button(visible=False).click(
                lambda st, x, y: demo_.depth_at(st, int(x), int(y)),
                [state, hidden_x, hidden_y],
                [readout],
                api_name="depth_at",
            )
        with gr.Tab("Text to image"):
            prompt = gr.Textbox(label="Prompt", lines=2, elem_id="t2i-prompt")
            with gr.Row():
                t2i_steps = gr.Slider(0, 100, value=0, step=1, label="Steps (0: model default)")
                t2i_seed = gr.Number(label="Seed", value=0, precision=0)
            t2i_run = gr.Button("Generate", variant="primary", elem_id="t2i-run")
            t2i_out = gr.Image(
                label="Generated image", type="numpy", interactive=False, elem_id="t2i-out", format="png"
            )
            t2i_run.click(demo_.generate, [prompt, t2i_steps, t2i_seed], [t2i_out], api_name="generate")
        with gr.Tab("Edit"):
            with gr.Row():
                edit_in = upload_image(label="Image", elem_id="edit-image")
                edit_out = gr.Image(
                    label="Edited image", type="numpy", interactive=False, elem_id="edit-out", format="png"
                )
            edit_text = gr.Textbox(label="Edit instruction", lines=2, elem_id="edit-instruction")
            with gr.Row():
                edit_steps = gr.Slider(0, 100, value=0, step=1, label="Steps (0: model default)")
                edit_seed = gr.Number(label="Seed", value=0, precision=0)
            edit_run = gr.Button("Edit", variant="primary", elem_id="edit-run")
            if examples:
                gr.Examples(examples=[[p] for p in examples], inputs=[edit_in], label="Examples")
            edit_run.click(
                demo_.edit, [edit_in, edit_text, edit_steps, edit_seed], [edit_out], api_name="edit"
            )
        gr.Markdown(
            f"Limits: uploads up to {max_bytes // (1024 * 1024)} MiB and {max_pixels / 1e6:g} megapixels; "
            f"at most {queue_size} requests wait in the queue."
        )
    app.queue(max_size=queue_size, default_concurrency_limit=CONCURRENCY)
    app.openbanana_demo = demo_
    return app


def launch(
    app: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_bytes: int = MAX_UPLOAD_BYTES,
    block: bool = True,
    quiet: bool = False,
) -> Any:
    """Start the server (``block=False`` returns at once; close it with ``app.close()``)."""
    return app.launch(
        server_name=host,
        server_port=port,
        max_file_size=max_bytes,
        share=False,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=True,
        ssr_mode=False,
        inbrowser=False,
        footer_links=["api"],
        mcp_server=False,
    )
