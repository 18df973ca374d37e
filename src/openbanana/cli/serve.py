"""``openbanana serve``: the Gradio web demo (see :mod:`openbanana.server.app` for its limits)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openbanana.cli.predict import load_pipeline
from openbanana.server.app import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    QUEUE_SIZE,
    build_app,
    launch,
)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the root app."""

    @app.command("serve")
    def serve(
        model: Annotated[
            Path | None, typer.Option("--model", help="Pipeline folder (default: the shipped model).")
        ] = None,
        host: Annotated[
            str, typer.Option("--host", help="Address to bind (0.0.0.0 exposes it to the network).")
        ] = DEFAULT_HOST,
        port: Annotated[int, typer.Option("--port", min=1, max=65535)] = DEFAULT_PORT,
        max_upload_mb: Annotated[
            float,
            typer.Option("--max-upload-mb", min=0.01, help="Largest upload accepted (bigger: HTTP 413)."),
        ] = MAX_UPLOAD_BYTES / 2**20,
        max_megapixels: Annotated[
            float, typer.Option("--max-megapixels", min=0.001, help="Largest image accepted, in megapixels.")
        ] = MAX_PIXELS / 1e6,
        queue_size: Annotated[
            int, typer.Option("--queue-size", min=1, help="Requests allowed to wait.")
        ] = QUEUE_SIZE,
        device: Annotated[
            str, typer.Option("--device", help="auto (CUDA if available) | cpu | cuda | cuda:N")
        ] = "auto",
    ) -> None:
        """Start the web demo (upload an image, pick a task, click a pixel for its depth)."""
        try:
            import gradio  # noqa: F401
        except ImportError:
            raise typer.BadParameter("the demo needs gradio: pip install 'openbanana[serve]'") from None
        pipe = load_pipeline(model, device)
        max_bytes = int(max_upload_mb * 2**20)
        demo = build_app(
            pipe, max_pixels=int(max_megapixels * 1e6), max_bytes=max_bytes, queue_size=queue_size
        )
        typer.echo(f"openbanana demo on http://{host}:{port} (Ctrl-C to stop)", err=True)
        launch(demo, host=host, port=port, max_bytes=max_bytes, block=True, quiet=True)
