"""The web demo (Gradio). ``build_app(pipe)`` makes the app, ``launch(app)`` serves it; the
limits it enforces are constants of :mod:`openbanana.server.app`."""

from openbanana.server.app import (
    CONCURRENCY,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_INSTRUCTION_CHARS,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    QUEUE_SIZE,
    Demo,
    build_app,
    example_images,
    launch,
)

__all__ = [
    "CONCURRENCY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_INSTRUCTION_CHARS",
    "MAX_PIXELS",
    "MAX_UPLOAD_BYTES",
    "QUEUE_SIZE",
    "Demo",
    "build_app",
    "example_images",
    "launch",
]
