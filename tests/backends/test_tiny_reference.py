"""The shipped default weights give the same outputs as the code that trained them (regression
reference).

Reference values were computed with the code of commit 66be8b4, which trained the shipped weights
(run 18, the fold-wc model; it answers with hard choices), on CPU in float32 from the fixed inputs
below; the code of the commit that shipped them gives the same values. A speed or layout
change must keep the model's function (tolerance 1e-4). When the shipped weights change, recompute
them with the code that trained them: ``git archive <commit> src | tar -x -C /tmp/old`` and
``PYTHONPATH=/tmp/old/src`` over this test's body.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from openbanana.backends.tiny import TinyBackend

WEIGHTS = Path(__file__).resolve().parents[2] / "src" / "openbanana" / "weights" / "default" / "backend"
IDX = [0, 100, 1000, 2000, 3000, 4000, 5000, 6143]
ONE_STEP = [-0.070100, -0.293624, 0.067731, 0.502560, -0.454675, 1.000000, -1.000000, -1.000000]
VELOCITY = [-0.497400, 2.046559, 1.025143, 0.450879, 2.246724, -0.594234, 0.462480, 1.571327]
ONE_STEP_MEAN_ABS, VELOCITY_MEAN_ABS = 0.673617, 1.785230


@pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(), reason="shipped weights not present")
def test_shipped_weights_give_the_reference_outputs():
    m = TinyBackend.from_pretrained(WEIGHTS)
    g = torch.Generator().manual_seed(7)
    cond = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    x = torch.randn(2, 3, 32, 32, generator=g)
    prompts = ["Estimate the depth of this image.", "make the sofa red"]
    with torch.no_grad():
        out = m.sample(cond, prompts, height=32, width=32, one_step=True)
        v = m.net(x, torch.tensor([0.3, 0.8]), cond, torch.tensor([True, False]), m.net.encode_text(prompts),
                  torch.tensor([False, False]))
    assert out.shape == v.shape == (2, 3, 32, 32)
    torch.testing.assert_close(out.flatten()[IDX], torch.tensor(ONE_STEP), atol=1e-4, rtol=0)
    torch.testing.assert_close(v.flatten()[IDX], torch.tensor(VELOCITY), atol=1e-4, rtol=0)
    assert abs(out.double().abs().mean().item() - ONE_STEP_MEAN_ABS) < 1e-4
    assert abs(v.double().abs().mean().item() - VELOCITY_MEAN_ABS) < 1e-4
