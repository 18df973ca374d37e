"""Fixtures: a tiny random pipeline saved to disk (loaded through the user's code path) and
one file per input class (see ``tests/surfaces_helpers.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from surfaces_helpers import build_tiny_pipeline_dir, write_inputs


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return build_tiny_pipeline_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("inputs"))
