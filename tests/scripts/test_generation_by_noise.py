"""scripts/generation_by_noise.py: the denoiser's error per noise level, and where training puts its times."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from micro_pipeline import micro_pipeline
from PIL import Image
from script_loader import load_script

gbn = load_script("generation_by_noise")


def test_training_share_sums_to_one_and_a_shift_moves_it_to_noise():
    plain = gbn.training_share(gbn.TIMES, "logit_normal", 1.0)
    shifted = gbn.training_share(gbn.TIMES, "logit_normal", 3.0)
    assert sum(plain) == pytest.approx(1.0, abs=1e-6) and sum(shifted) == pytest.approx(1.0, abs=1e-6)
    high = gbn.TIMES.index(0.9)
    assert sum(plain[high:]) == pytest.approx(0.0418, abs=0.002)  # t > 0.85 under a standard logit-normal
    assert sum(shifted[high:]) > 4 * sum(plain[high:])
    uniform = gbn.training_share((0.25, 0.75), "uniform", 1.0)
    assert uniform == pytest.approx([0.5, 0.5], abs=0.005)
    # half of the times shifted by 8: half of the plain share at the clean end, half of 8's at the noise end
    eight = gbn.training_share(gbn.TIMES, "logit_normal", 8.0)
    mixed = gbn.training_share(gbn.TIMES, "logit_normal", 8.0, shift_share=0.5)
    assert mixed[0] == pytest.approx(plain[0] / 2 + eight[0] / 2, abs=0.003)
    assert mixed[-2] == pytest.approx(plain[-2] / 2 + eight[-2] / 2, abs=0.003)


def test_clean_guess_is_exact_without_noise_and_errors_are_per_time():
    backend = micro_pipeline(resolution=16).backend.eval()
    x0 = torch.rand(2, 3, 16, 16) * 2 - 1
    eps = torch.randn(2, 3, 16, 16)
    assert torch.equal(gbn.clean_guess(backend, x0, eps, 0.0, ["a", "b"]), x0)  # t = 0: the input is the answer
    renders = ((x0 + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    errs = gbn.errors_by_time(backend, renders, ["a", "b"], seeds=1)
    # the micro net predicts the clean image (x-prediction) and starts at zero: its guess is 0 at
    # every t, so each error is the renders' mean square (of their 8-bit values)
    x8 = torch.from_numpy(renders).float() / 127.5 - 1
    assert errs == pytest.approx([float((x8 ** 2).mean())] * len(gbn.TIMES), rel=1e-5)


def test_command_line(tmp_path, capsys):
    model = micro_pipeline(resolution=16, time_shift=2.0).save_pretrained(tmp_path / "model")
    sheet = tmp_path / "sheet.png"
    argv = ["--model", str(model), "--n", "2", "--seeds", "1", "--sheet", str(sheet), "--sheet-rows", "1",
            "--steps", "1"]
    assert gbn.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["t"] for r in rows] == list(gbn.TIMES)
    assert [r["training_share"] for r in rows] == [round(s, 4) for s in gbn.training_share(gbn.TIMES, "logit_normal",
                                                                                            2.0)]
    assert any(line.startswith("| 1 |") for line in lines)
    im = np.asarray(Image.open(sheet))
    assert im.shape[0] > 16 and im.shape[1] > 7 * 16  # render, four guesses, two samples in a row
    for bad in (["--n", "0"], ["--model", str(model), "--seeds", "0"], ["--model", str(tmp_path)]):
        with pytest.raises(SystemExit) as e:
            gbn.main(bad)
        assert e.value.code == 2


def test_the_sampler_trail_ends_at_the_pipelines_sample():
    torch.manual_seed(0)
    pipe = micro_pipeline(resolution=16, time_shift=2.0)
    for p in pipe.backend.parameters():  # a net whose guesses depend on its input
        p.data.add_(0.05 * torch.randn_like(p))
    guesses, times, x = gbn.sampler_guesses(pipe.backend, ["a red box"], (1, 3, 16, 16), steps=8, seed=0)
    # the shift-2 schedule's times nearest 0.5, 0.8, 0.95 and 1, from noise to clean
    assert times == sorted(times, reverse=True) and times[0] == 1.0 and len(times) == len(gbn.SHOWN)
    assert all(g.shape == (1, 3, 16, 16) for g in guesses)
    sample = pipe.generate(["a red box"], num_inference_steps=8, generator=torch.Generator().manual_seed(0))
    drawn = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()[0]
    assert np.abs(drawn.astype(int) - sample.predictions[0].generated.astype(int)).max() <= 1
