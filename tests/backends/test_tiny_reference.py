"""The shipped default weights give the same outputs as before the speed work (regression reference).

Reference values were computed with the code of commit 83358d2 (before any speed change) on CPU in
float32, from the fixed inputs below; a speed change must keep the model's function (tolerance 1e-4).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from openbanana.backends.tiny import TinyBackend

WEIGHTS = Path(__file__).resolve().parents[2] / "src" / "openbanana" / "weights" / "default" / "backend"
IDX = [0, 100, 1000, 2000, 3000, 4000, 5000, 6143]
ONE_STEP = [-0.174873, 0.110166, 0.436822, 0.215414, -0.146783, -0.144778, 0.457752, -0.389988]
VELOCITY = [-0.321707, 0.409983, -0.06262, 0.156837, 0.870164, -0.829832, 0.18224, 0.911052]
ONE_STEP_MEAN_ABS, VELOCITY_MEAN_ABS = 0.259356, 0.833553


@pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(), reason="shipped weights not present")
def test_shipped_weights_give_the_reference_outputs():
    m = TinyBackend.from_pretrained(WEIGHTS)
    g = torch.Generator().manual_seed(7)
    cond = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    x = torch.randn(2, 3, 32, 32, generator=g)
    prompts = ["Estimate the depth of this image.", "make the sofa red"]
    with torch.no_grad():
        out = m.sample(cond, prompts, height=32, width=32, one_step=True)
        v = m.net(x, torch.tensor([0.3, 0.8]), cond, torch.tensor([True, False]), m.net.text(prompts),
                  torch.tensor([False, False]))
    assert out.shape == v.shape == (2, 3, 32, 32)
    torch.testing.assert_close(out.flatten()[IDX], torch.tensor(ONE_STEP), atol=1e-4, rtol=0)
    torch.testing.assert_close(v.flatten()[IDX], torch.tensor(VELOCITY), atol=1e-4, rtol=0)
    assert abs(out.double().abs().mean().item() - ONE_STEP_MEAN_ABS) < 1e-4
    assert abs(v.double().abs().mean().item() - VELOCITY_MEAN_ABS) < 1e-4
