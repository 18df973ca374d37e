"""The tiny backend: real modules at tiny sizes, fixed seeds, values asserted."""

import pytest
import torch
from backend_helpers import fit, make_live, random_batch

from openbanana.backends import BACKENDS, Batch, GeneratorBackend
from openbanana.backends.tiny import SIZES, TinyBackend, TinyConfig

MICRO = {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1], "emb_dim": 32,
         "text": {"dim": 32, "layers": 1, "heads": 2}}


def _micro(seed: int = 0, randomize_out: bool = True) -> TinyBackend:
    torch.manual_seed(seed)
    m = TinyBackend.from_config(MICRO)
    return make_live(m, min_dim=2) if randomize_out else m


_batch = random_batch


def test_registered_and_protocol():
    assert BACKENDS.get("tiny") is TinyBackend
    assert isinstance(_micro(), GeneratorBackend)


@pytest.mark.parametrize("name,lo,hi", [("tiny-xs", 1.2e6, 2.0e6), ("tiny-s", 5e6, 9e6), ("tiny-m", 15e6, 25e6),
                                       ("fold-s", 6e6, 9e6), ("fold-wc", 7.70e6, 7.75e6)])
def test_sizes_parameter_counts(name, lo, hi):
    with torch.device("meta"):
        m = TinyBackend(SIZES.get(name)())
    n = sum(p.numel() for p in m.parameters())
    assert lo <= n <= hi, n


def test_config_json_round_trip_and_errors():
    cfg = TinyConfig.from_dict(MICRO)
    assert cfg.channels == 16 and cfg.text.dim == 32 and cfg.text.max_len == 160
    assert TinyConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['chanels'\] in TinyConfig"):
        TinyConfig.from_dict({"chanels": 3})
    with pytest.raises(ValueError, match="unknown tiny model size"):
        TinyConfig.from_dict({"size": "tiny-xxl"})
    with pytest.raises(ValueError, match="attn_levels"):
        TinyConfig(channel_mults=(1, 2), attn_levels=(5,))


@pytest.mark.slow
def test_overfit_one_batch_one_step_mode():
    """One-step mode on a fixed batch is plain regression: the loss must fall by > 5x."""
    m = _micro(randomize_out=False)
    b = _batch(s=8)
    b.one_step = torch.ones(4, dtype=torch.bool)
    losses = fit(m, b, lr=5e-3, steps=40)
    assert losses[0] > 0.3
    assert losses[-1] < losses[0] / 5, (losses[0], losses[-1])
    with torch.no_grad():
        out = m.sample(b.cond, b.prompts, height=8, width=8, one_step=True, has_cond=b.has_cond)
    assert (out - b.target).pow(2).mean() < losses[0] / 4


def test_flow_loss_decreases_on_fixed_batch():
    m = _micro(randomize_out=False)
    b = _batch(s=8)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)

    def mean_loss() -> float:
        g = torch.Generator().manual_seed(7)
        with torch.no_grad():
            return sum(m.training_loss(b, g).item() for _ in range(4)) / 4

    before = mean_loss()
    g = torch.Generator().manual_seed(0)
    for _ in range(30):
        loss = m.training_loss(b, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert mean_loss() < 0.8 * before


def test_sample_shape_range_determinism():
    m = _micro().eval()
    b = _batch()
    kw = {"height": 16, "width": 16, "num_inference_steps": 3}
    x1 = m.sample(b.cond, b.prompts, generator=torch.Generator().manual_seed(3), **kw)
    x2 = m.sample(b.cond, b.prompts, generator=torch.Generator().manual_seed(3), **kw)
    x3 = m.sample(b.cond, b.prompts, generator=torch.Generator().manual_seed(4), **kw)
    assert x1.shape == (4, 3, 16, 16) and x1.dtype == torch.float32
    assert x1.min() >= -1 and x1.max() <= 1
    assert torch.equal(x1, x2)
    assert not torch.allclose(x1, x3)
    t2i = m.sample(None, ["a red cube"], height=16, width=32, generator=torch.Generator().manual_seed(0))
    assert t2i.shape == (1, 3, 16, 32)


def test_time_shift_moves_the_training_times_and_is_the_samplers_default():
    from openbanana.sampling import initial_noise, interpolate, sample_train_t, shift_times, velocity_target

    plain = _micro()
    torch.manual_seed(0)
    shifted = TinyBackend.from_config({**MICRO, "time_shift": 3.0})
    shifted.load_state_dict(plain.state_dict())
    b = _batch()
    with torch.no_grad():
        # the loss at the shifted times, drawn from the same generator in the same order as training_loss
        g = torch.Generator().manual_seed(1)
        eps = initial_noise(b.target.shape, g)
        t = shift_times(sample_train_t(4, generator=g), 3.0)
        x_t = interpolate(b.target, eps, t)
        v = plain.net(x_t, t, b.cond, b.has_cond, plain.net.encode_text(b.prompts), torch.zeros(4, dtype=torch.bool))
        want = torch.nn.functional.mse_loss(v, velocity_target(b.target, eps)).item()
        assert shifted.training_loss(b, torch.Generator().manual_seed(1)).item() == pytest.approx(want, rel=1e-5)
        assert plain.training_loss(b, torch.Generator().manual_seed(1)).item() != pytest.approx(want, rel=1e-3)
        held_out = [m.training_loss(b, torch.Generator().manual_seed(1), auxiliary=False).item() for m in (plain, shifted)]
        assert held_out[0] == held_out[1]  # held-out losses: the same unshifted times for every model

        kw = {"height": 16, "width": 16, "num_inference_steps": 3}
        x = shifted.sample(None, b.prompts, generator=torch.Generator().manual_seed(2), **kw)
        assert torch.equal(x, shifted.sample(None, b.prompts, generator=torch.Generator().manual_seed(2), shift=3.0,
                                             **kw))
        assert not torch.allclose(x, shifted.sample(None, b.prompts, generator=torch.Generator().manual_seed(2),
                                                    shift=1.0, **kw))
    with pytest.raises(ValueError, match="time_shift"):
        TinyConfig.from_dict({**MICRO, "time_shift": 0})


def test_a_share_of_shifted_times_is_the_loss_at_the_mixed_times():
    from openbanana.sampling import (
        initial_noise,
        interpolate,
        sample_train_t,
        shift_some_times,
        velocity_target,
    )

    plain = _micro()
    torch.manual_seed(0)
    mixed = TinyBackend.from_config({**MICRO, "time_shift": 8.0, "time_shift_share": 0.5})
    mixed.load_state_dict(plain.state_dict())
    b = _batch()
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        eps = initial_noise(b.target.shape, g)
        t = shift_some_times(sample_train_t(4, generator=g), 8.0, 0.5, g)
        v = plain.net(interpolate(b.target, eps, t), t, b.cond, b.has_cond, plain.net.encode_text(b.prompts),
                      torch.zeros(4, dtype=torch.bool))
        want = torch.nn.functional.mse_loss(v, velocity_target(b.target, eps)).item()
        assert mixed.training_loss(b, torch.Generator().manual_seed(1)).item() == pytest.approx(want, rel=1e-5)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="time_shift_share"):
            TinyConfig.from_dict({**MICRO, "time_shift_share": bad})


def test_one_step_is_deterministic_and_uses_the_condition():
    m = _micro().eval()
    b = _batch()
    a = m.sample(b.cond, b.prompts, height=16, width=16, one_step=True)
    c = m.sample(b.cond, b.prompts, height=16, width=16, one_step=True, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, c)
    other = m.sample(-b.cond, b.prompts, height=16, width=16, one_step=True)
    assert (a - other).abs().mean() > 1e-4
    other_text = m.sample(b.cond, ["x"] * 4, height=16, width=16, one_step=True)
    assert (a - other_text).abs().mean() > 1e-5


def test_guidance_scale_one_equals_plain_and_guidance_changes_output():
    m = _micro().eval()
    b = _batch()
    kw = {"height": 16, "width": 16, "num_inference_steps": 2}
    plain = m.sample(b.cond, b.prompts, generator=torch.Generator().manual_seed(1), **kw)
    # scales (1, 1) take the unguided path; scales (1 + tiny) the 3-way batched path: must agree
    near = m.sample(b.cond, b.prompts, generator=torch.Generator().manual_seed(1), guidance_text=1.0 + 1e-6, **kw)
    torch.testing.assert_close(plain, near, atol=1e-4, rtol=0)
    guided = m.sample(b.cond, b.prompts, generator=torch.Generator().manual_seed(1), guidance_text=4.0,
                      guidance_image=2.0, **kw)
    assert (guided - plain).abs().mean() > 1e-4


def test_input_errors():
    m = _micro()
    b = _batch()
    with pytest.raises(ValueError, match="cond must be"):
        m.sample(b.cond[:2], b.prompts, height=16, width=16)
    with pytest.raises(ValueError, match="multiples of 2"):
        m.sample(None, ["a"], height=15, width=16)
    with pytest.raises(ValueError, match="needs batch.target"):
        m.training_loss(Batch(target=None, cond=b.cond, has_cond=b.has_cond, prompts=b.prompts))


@pytest.mark.parametrize("storage", ["float32", "bfloat16"])
def test_save_load_round_trip(tmp_path, storage):
    m = _micro()
    m.config.storage_dtype = storage
    m.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    loaded = BACKENDS.get("tiny").from_pretrained(tmp_path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    b = _batch()
    a = m.eval().sample(b.cond, b.prompts, height=16, width=16, one_step=True)
    c = loaded.sample(b.cond, b.prompts, height=16, width=16, one_step=True)
    if storage == "float32":
        assert torch.equal(a, c)
    else:
        torch.testing.assert_close(a, c, atol=0.05, rtol=0)


def test_from_pretrained_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        TinyBackend.from_pretrained(tmp_path)


FOLD = {**MICRO, "patch": 4, "refine": 8, "refine_features": 4, "prediction": "x"}


def test_fold_stem_shapes_factor_and_errors():
    cfg = TinyConfig.from_dict(FOLD)
    assert cfg.downsample_factor == 8  # 4x4 folded pixels, then one stride-2 level
    torch.manual_seed(0)
    m = TinyBackend(cfg)
    out = m.sample(torch.zeros(2, 3, 16, 24), ["depth", "normals"], height=16, width=24, one_step=True)
    assert out.shape == (2, 3, 16, 24)
    with pytest.raises(ValueError, match="multiples of 8"):
        m.sample(torch.zeros(1, 3, 12, 12), ["x"], height=12, width=12, one_step=True)
    with pytest.raises(ValueError, match="prediction"):
        TinyConfig.from_dict({**FOLD, "prediction": "eps"})
    with pytest.raises(ValueError, match="patch"):
        TinyConfig.from_dict({**FOLD, "patch": 0})


def test_x_prediction_turns_the_clean_image_into_the_velocity():
    """x-prediction: forward returns (x_t - x0_hat) / max(t, x_min_t); in the one-step mode
    (x_t = 0, t = 1) that is -x0_hat, so one Euler step lands on x0_hat exactly."""
    torch.manual_seed(0)
    m = TinyBackend.from_config(FOLD)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.05)
    net = m.net
    # the clean image the network drew: the same network run with prediction="v" returns it raw
    net.cfg.prediction = "v"
    x_t, cond = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    text = net.text(["a", "b"])
    has, flag = torch.ones(2, dtype=torch.bool), torch.zeros(2, dtype=torch.bool)
    t = torch.tensor([0.5, 0.01])
    with torch.no_grad():
        x0_hat = net(x_t, t, cond, has, text, flag)
        net.cfg.prediction = "x"
        v = net(x_t, t, cond, has, text, flag)
    expect = (x_t - x0_hat) / torch.tensor([0.5, net.cfg.x_min_t])[:, None, None, None]
    assert torch.allclose(v, expect, atol=1e-5)
    one = torch.ones(2, dtype=torch.bool)
    with torch.no_grad():
        drawn = m.sample(cond, ["a", "b"], height=16, width=16, one_step=True)
        net.cfg.prediction = "v"
        raw = net(torch.zeros_like(cond), torch.ones(2), cond, has, text, one)
    assert torch.allclose(drawn, raw.clamp(-1, 1), atol=1e-5)


def test_fold_refinement_sees_full_resolution_pixels():
    """The refinement head reads the input image at full resolution: changing one pixel of the
    condition changes the output at that pixel (a 4x4-block model alone could only move its block)."""
    torch.manual_seed(0)
    m = TinyBackend.from_config(FOLD)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.05)
    cond = torch.zeros(1, 3, 16, 16)
    a = m.sample(cond, ["x"], height=16, width=16, one_step=True)
    cond[0, :, 5, 6] = 1.0
    b = m.sample(cond, ["x"], height=16, width=16, one_step=True)
    assert (a - b).abs()[0, :, 5, 6].max() > 1e-4


def test_fold_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    m = TinyBackend.from_config(FOLD)
    m.save_pretrained(tmp_path)
    back = TinyBackend.from_pretrained(tmp_path)
    assert back.config == m.config
    cond = torch.rand(1, 3, 16, 16) * 2 - 1
    assert torch.equal(m.sample(cond, ["q"], height=16, width=16, one_step=True),
                       back.sample(cond, ["q"], height=16, width=16, one_step=True))


def test_answer_loss_adds_the_tasks_own_error_on_one_step_rows_only():
    from openbanana.tasks.answer_loss import answer_loss

    plain = _micro()
    torch.manual_seed(0)
    weighted = TinyBackend.from_config({**MICRO, "answer_loss": {"depth": 0.5}})
    weighted.load_state_dict(plain.state_dict())
    b = _batch(s=8)
    b.one_step = torch.tensor([True, True, False, False])

    def loss(m, **kw):
        return m.training_loss(b, torch.Generator().manual_seed(1), **kw).item()

    with torch.no_grad():
        v = plain.net(torch.zeros_like(b.target), torch.ones(4), b.cond, b.has_cond,
                      plain.net.encode_text(b.prompts), b.one_step)
        extra = answer_loss(-v[:2], b.target[:2], b.prompts[:2], b.tasks[:2], {"depth": 0.5}, batch_size=4)
        assert extra.item() > 0.01  # row 0 is depth; row 1 (semantic) has no answer loss
        assert abs(loss(weighted) - loss(plain) - extra.item()) < 1e-5
        assert loss(weighted, auxiliary=False) == loss(plain, auxiliary=False)  # held-out: flow matching alone
        b.one_step = torch.tensor([False, True, False, False])  # the depth row sampled from noise: no term
        assert loss(weighted) == loss(plain)
    with pytest.raises(ValueError, match="unknown task"):
        TinyConfig.from_dict({**MICRO, "answer_loss": {"depht": 1.0}})
