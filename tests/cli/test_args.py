"""Argument types shared by the command line and the scripts."""

import argparse

import pytest

from openbanana.cli.args import model_dir


def test_model_dir_takes_an_exported_pipeline_and_refuses_anything_else(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "pipeline.json").write_text("{}")
    assert model_dir(str(tmp_path / "model")) == tmp_path / "model"
    for bad in (tmp_path, tmp_path / "missing", tmp_path / "model" / "pipeline.json"):
        with pytest.raises(argparse.ArgumentTypeError, match="no pipeline.json there"):
            model_dir(str(bad))


def test_synthetic_model_args(tmp_path):
    from openbanana.cli.args import add_synthetic_model_args

    ap = argparse.ArgumentParser()
    add_synthetic_model_args(ap, n=8)
    args = ap.parse_args([])
    assert (args.model, args.n, args.split) == (None, 8, "val")
    with pytest.raises(SystemExit):
        ap.parse_args(["--split", "train"])
