"""`openbanana flux2 ...` passes its arguments to the FLUX.2 tools unchanged."""

from __future__ import annotations

import json

import pytest

from openbanana.cli import main


def test_help_and_errors_pass_through(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["flux2", "pipeline", "--help"])
    assert exc.value.code == 0
    assert "--model" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["flux2", "merge"])
    assert exc.value.code == 2
    assert "--model" in capsys.readouterr().err


@pytest.mark.slow
def test_pipeline_folder_from_a_tiny_base_loads_as_a_pipeline(tmp_path):
    pytest.importorskip("diffusers")
    from openbanana.backends.flux2_random import save_random_pipeline
    from openbanana.pipeline import OpenBananaPipeline

    base = save_random_pipeline(tmp_path / "base", "tiny", seed=0)
    out = tmp_path / "pipe"
    main(["flux2", "pipeline", "--model", str(base), "--out", str(out), "--resolution", "32"])
    cfg = json.loads((out / "pipeline.json").read_text())
    assert cfg["backend"] == "flux2-klein" and cfg["resolution"] == 32
    pipe = OpenBananaPipeline.from_pretrained(out)
    assert pipe.resolution == 32
