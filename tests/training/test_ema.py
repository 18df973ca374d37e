import pytest
import torch

from openbanana.training.ema import EMA


def test_ema_warmup_math_and_swap():
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    ema = EMA(lin, decay=0.9)
    with torch.no_grad():
        lin.weight.fill_(3.0)
    ema.update(lin)  # d = min(0.9, 1/10) = 0.1 -> 0.1 * 1 + 0.9 * 3 = 2.8
    assert ema.shadow["weight"].flatten().tolist() == pytest.approx([2.8, 2.8])
    ema.num_updates = 1000
    with torch.no_grad():
        lin.weight.fill_(0.0)
    ema.update(lin)  # d = 0.9 -> 2.52
    assert ema.shadow["weight"].flatten().tolist() == pytest.approx([2.52, 2.52])
    with ema.swapped_in(lin):
        assert lin.weight.flatten().tolist() == pytest.approx([2.52, 2.52])
    assert lin.weight.tolist() == [[0.0, 0.0]]


def test_ema_skips_frozen_and_state_round_trip():
    m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    m[0].requires_grad_(False)
    ema = EMA(m, 0.99)
    assert set(ema.shadow) == {"1.weight", "1.bias"}
    other = EMA(m, 0.99)
    other.load_state_dict({k: v + 1 for k, v in ema.state_dict().items()}, num_updates=7)
    assert other.num_updates == 7 and torch.equal(other.shadow["1.bias"], ema.shadow["1.bias"] + 1)
    with pytest.raises(ValueError, match="mismatch"):
        other.load_state_dict({}, 0)
    with pytest.raises(ValueError):
        EMA(m, 1.0)
