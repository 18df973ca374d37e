"""Argument types shared by the command line and the scripts in ``scripts/``."""

from __future__ import annotations

import argparse
from pathlib import Path


def model_dir(text: str) -> Path:
    """An exported pipeline directory (one holding ``pipeline.json``), for ``argparse``'s ``type=``.

    Raises:
        argparse.ArgumentTypeError: there is no ``pipeline.json`` in ``text``.
    """
    path = Path(text)
    if not (path / "pipeline.json").is_file():
        raise argparse.ArgumentTypeError(f"{path}: no pipeline.json there (an exported pipeline directory is expected)")
    return path


def add_synthetic_model_args(ap: argparse.ArgumentParser, n: int = 32) -> None:
    """``--model`` (an exported pipeline, default the shipped model), ``--n`` scenes (default ``n``)
    and ``--split`` (``val`` or ``shift``): the arguments of a script that asks a model about
    synthetic benchmark scenes."""
    ap.add_argument("--model", type=model_dir, default=None, help="exported pipeline directory (default: the shipped model)")
    ap.add_argument("--n", type=int, default=n, help="scenes")
    ap.add_argument("--split", default="val", choices=("val", "shift"))
