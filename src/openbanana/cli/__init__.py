"""The ``openbanana`` command line: a thin typer app over library functions.

Each surface lives in its own module under ``openbanana.cli`` and exposes ``register(app)``,
which adds its commands (or a sub-app) to the root app. Heavy imports (torch and the modules that
need it: the pipeline, training, evaluation; gradio) happen inside the commands, so
``openbanana --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from openbanana import __version__
from openbanana.errors import OpenBananaError

# Order is the order in ``openbanana --help``.
COMMAND_MODULES = (
    "openbanana.cli.predict",
    "openbanana.cli.data",
    "openbanana.cli.train",
    "openbanana.cli.eval",
    "openbanana.cli.serve",
    "openbanana.cli.frontier",
    "openbanana.cli.codes",
    "openbanana.cli.demo",
    "openbanana.cli.experiment",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="openbanana",
        help="One image generator for every vision task: depth, normals, segmentation, generation.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    @app.callback()
    def root() -> None:
        """One image generator for every vision task: depth, normals, segmentation, generation."""

    @app.command()
    def version() -> None:
        """Print the package version."""
        typer.echo(__version__)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one clear line and exit 2, never a traceback."""
    app = build_app()
    try:
        app(args=argv, standalone_mode=False)
    except OpenBananaError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        # click's (typer-vendored) usage errors: show the usage line, not a traceback
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ in {"Exit", "Abort"}:
            sys.exit(getattr(exc, "exit_code", 1))
        raise
