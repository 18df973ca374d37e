"""`openbanana flux2 ...`: FLUX.2 [klein] model folders and replay data from the main command.

Thin pass-throughs to :mod:`openbanana.cli.flux2_models` (``pipeline``, ``merge``) and
:mod:`openbanana.cli.flux2_replay` (``replay-write``, ``replay-drift``); every option after
the subcommand goes to them unchanged (``openbanana flux2 pipeline --help`` lists them). Needs the
``frontier`` extra (diffusers, transformers, peft).
"""

from __future__ import annotations

import importlib

import typer

#: subcommand -> (module, its own subcommand)
PASSTHROUGH = {
    "pipeline": ("openbanana.cli.flux2_models", "pipeline",
                 "Wrap a base / LoRA / full / merged FLUX.2 model as an openbanana pipeline folder."),
    "merge": ("openbanana.cli.flux2_models", "merge",
              "Fold a trained LoRA into a standalone diffusers Flux2KleinPipeline folder."),
    "replay-write": ("openbanana.cli.flux2_replay", "write",
                     "Generate replay shards with the frozen base model (keeps generation ability)."),
    "replay-drift": ("openbanana.cli.flux2_replay", "drift",
                     "Generation drift of a tuned backend on held-out replay samples."),
}
_CTX = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _passthrough(module: str, sub: str, help_text: str):
    def command(ctx: typer.Context) -> None:
        importlib.import_module(module).main([sub, *ctx.args])

    command.__doc__ = help_text
    return command


def register(app: typer.Typer) -> None:
    """Add the ``flux2`` sub-app to the root app."""
    flux2 = typer.Typer(help="FLUX.2 klein 4B: model folders and replay data (GPU; frontier extra).",
                        no_args_is_help=True)
    for name, (module, sub, help_text) in PASSTHROUGH.items():
        flux2.command(name, context_settings=_CTX)(_passthrough(module, sub, help_text))
    app.add_typer(flux2, name="flux2")
