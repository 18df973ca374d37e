"""Pure sampler math: schedule, Euler, one-step, guidance, ensembles."""

import pytest
import torch

from openbanana.sampling import (
    REDUCERS,
    cfg_combine,
    ensemble,
    euler_sample,
    initial_noise,
    interpolate,
    one_step_sample,
    sample_train_t,
    shift_some_times,
    shift_times,
    timesteps,
    velocity_target,
)


def test_timesteps_trailing_uniform_and_shift():
    t = timesteps(4)
    assert t.tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    s = timesteps(4, shift=3.0)
    assert s[0] == 1.0 and s[-1] == 0.0
    assert torch.all(s[:-1] > s[1:])
    assert s[2].item() == pytest.approx(3 * 0.5 / (1 + 2 * 0.5))  # 0.75: more steps at high noise
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError):
            timesteps(bad)


def test_shift_times_keeps_the_ends_and_moves_toward_noise():
    t = torch.tensor([0.0, 0.25, 0.5, 0.9, 1.0])
    assert torch.equal(shift_times(t, 1.0), t)
    s = shift_times(t, 3.0)
    assert s[0] == 0.0 and s[-1] == 1.0 and torch.all(s[1:-1] > t[1:-1])
    assert s[2].item() == pytest.approx(0.75)
    assert torch.allclose(shift_times(s, 1 / 3.0), t, atol=1e-6)  # 1/shift undoes it
    # a standard logit-normal above 0.9: 1.4 %; shifted by 3: 13.6 % (t > 0.75 before the shift)
    z = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    assert (torch.sigmoid(z) > 0.9).float().mean().item() == pytest.approx(0.014, abs=0.002)
    assert (shift_times(torch.sigmoid(z), 3.0) > 0.9).float().mean().item() == pytest.approx(0.136, abs=0.004)
    assert torch.equal(timesteps(4, shift=3.0), shift_times(timesteps(4), 3.0))
    with pytest.raises(ValueError, match="shift"):
        shift_times(t, 0.0)


def test_interpolate_and_velocity_are_consistent():
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(3, 3, 4, 4, generator=g), torch.randn(3, 3, 4, 4, generator=g)
    t = torch.tensor([0.0, 0.3, 1.0])
    xt = interpolate(x0, eps, t)
    v = velocity_target(x0, eps)
    torch.testing.assert_close(xt[0], x0[0])
    torch.testing.assert_close(xt[2], eps[2])
    # one Euler step of size t back from x_t with the true velocity lands on x0
    torch.testing.assert_close(xt - t.view(-1, 1, 1, 1) * v, x0)


@pytest.mark.parametrize("n", [1, 3, 16])
def test_euler_is_exact_on_straight_paths(n):
    """For data concentrated at c the true velocity is (x - c) / t: Euler lands on c for any N."""
    c = torch.full((2, 3, 4, 4), 0.25)
    noise = initial_noise((2, 3, 4, 4), torch.Generator().manual_seed(1))
    out = euler_sample(lambda x, t: (x - c) / t.view(-1, 1, 1, 1), noise, n)
    torch.testing.assert_close(out, c, atol=1e-5, rtol=0)


def test_one_step_sample_is_minus_velocity_at_zero_input():
    seen = {}

    def vel(x, t):
        seen["x"], seen["t"] = x, t
        return torch.full_like(x, -0.5)

    out = one_step_sample(vel, (2, 3, 4, 4))
    assert torch.equal(seen["x"], torch.zeros(2, 3, 4, 4)) and torch.equal(seen["t"], torch.ones(2))
    assert torch.equal(out, torch.full((2, 3, 4, 4), 0.5))


def test_cfg_combine_math():
    u, i, f = torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([4.0])
    assert cfg_combine(u, i, f, 1.0, 1.0).item() == 4.0  # no guidance: the full prediction
    assert cfg_combine(u, i, f, 0.0, 0.0).item() == 1.0  # both off: unconditional
    assert cfg_combine(u, i, f, 0.0, 1.0).item() == 2.0  # image only
    assert cfg_combine(u, i, f, 3.0, 1.5).item() == 1 + 1.5 * 1 + 3.0 * 2  # 8.5


def test_train_t_distributions_seeded():
    a = sample_train_t(1000, generator=torch.Generator().manual_seed(0))
    b = sample_train_t(1000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.min() > 0 and a.max() < 1
    assert abs(a.mean().item() - 0.5) < 0.03
    u = sample_train_t(1000, distribution="uniform", generator=torch.Generator().manual_seed(0))
    assert u.std() > a.std()  # logit-normal concentrates mid-noise
    with pytest.raises(ValueError, match="distribution"):
        sample_train_t(3, distribution="beta")


def test_initial_noise_seeded():
    a = initial_noise((1, 3, 2, 2), torch.Generator().manual_seed(5))
    b = initial_noise((1, 3, 2, 2), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_ensemble_mean_median_spread():
    vals = [torch.tensor([1.0, 10.0]), torch.tensor([3.0, 10.0]), torch.tensor([8.0, 10.0])]
    comb, spread = ensemble(lambda i: vals[i], 3, "mean")
    torch.testing.assert_close(comb, torch.tensor([4.0, 10.0]))
    torch.testing.assert_close(spread, torch.tensor([torch.tensor([1.0, 3.0, 8.0]).std(unbiased=False).item(), 0.0]))
    comb, _ = ensemble(lambda i: vals[i], 3, "median")
    torch.testing.assert_close(comb, torch.tensor([3.0, 10.0]))
    comb, spread = ensemble(lambda i: vals[0], 1)
    assert torch.equal(spread, torch.zeros(2))


def test_ensemble_labels_mode_and_disagreement():
    labels = [torch.tensor([1, 2]), torch.tensor([1, 3]), torch.tensor([4, 3])]
    comb, dis = ensemble(lambda i: labels[i], 3, REDUCERS["mode"])
    assert comb.tolist() == [1, 3]
    torch.testing.assert_close(dis, torch.tensor([1 / 3, 1 / 3]))


def test_ensemble_errors():
    with pytest.raises(ValueError, match="k must be"):
        ensemble(lambda i: torch.zeros(1), 0)
    with pytest.raises(ValueError, match="unknown reducer"):
        ensemble(lambda i: torch.zeros(1), 2, "max")
    with pytest.raises(ValueError, match="share one shape"):
        ensemble(lambda i: torch.zeros(i + 1), 2)


def test_shift_some_times_shifts_a_share_and_draws_nothing_at_the_ends():
    t = torch.sigmoid(torch.randn(20_000, generator=torch.Generator().manual_seed(0)))
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    assert torch.equal(shift_some_times(t, 8.0, 1.0, g), shift_times(t, 8.0))
    assert torch.equal(shift_some_times(t, 8.0, 0.0, g), t)
    assert torch.equal(g.get_state(), state)  # share 0 or 1: the generator is not used
    mixed = shift_some_times(t, 8.0, 0.5, g)
    moved = ~torch.isclose(mixed, t)
    assert moved.float().mean().item() == pytest.approx(0.5, abs=0.02)
    assert torch.allclose(mixed[moved], shift_times(t[moved], 8.0))
    # both ends trained: above 0.97 like a shift of 8 at half rate, below 0.3 like no shift at half rate
    high, low = (mixed > 0.97).float().mean().item(), (mixed < 0.3).float().mean().item()
    assert high == pytest.approx(0.5 * (shift_times(t, 8.0) > 0.97).float().mean().item(), abs=0.01)
    assert low == pytest.approx(0.5 * (t < 0.3).float().mean().item(), abs=0.01)
    with pytest.raises(ValueError, match="share"):
        shift_some_times(t, 8.0, 1.5)
