"""The JiT backend: a pixel-patch transformer behind the tiny backend's protocol; real modules at
micro size, fixed seeds, values asserted."""

import pytest
import torch
from backend_helpers import fit, make_live, random_batch

from openbanana.backends import BACKENDS, GeneratorBackend
from openbanana.backends.jit import JIT_SIZES, JiT, JiTBackend, JiTConfig, position_embedding

MICRO = {"size": "jit-xs", "patch": 4, "dim": 32, "depth": 2, "heads": 2, "bottleneck": 16, "emb_dim": 32,
         "refine": 4, "refine_features": 2, "text": {"dim": 32, "layers": 1, "heads": 2, "buckets": 256}}


def _micro(seed: int = 0, randomize_zero: bool = True) -> JiTBackend:
    torch.manual_seed(seed)
    m = JiTBackend.from_config(MICRO)
    return make_live(m) if randomize_zero else m


_batch = random_batch


def test_registered_and_protocol():
    assert BACKENDS.get("jit") is JiTBackend
    assert isinstance(_micro(), GeneratorBackend)
    assert set(JIT_SIZES.names()) >= {"jit-xs", "jit-s"}


@pytest.mark.parametrize("name,lo,hi", [("jit-xs", 0.3e6, 2.0e6), ("jit-s", 6e6, 11e6)])
def test_sizes_parameter_counts(name, lo, hi):
    with torch.device("meta"):
        m = JiTBackend(JIT_SIZES.get(name)())
    n = sum(p.numel() for p in m.parameters())
    assert lo <= n <= hi, n


def test_config_round_trip_and_errors():
    cfg = JiTConfig.from_dict(MICRO)
    assert cfg.patch == 4 and cfg.text.dim == 32 and cfg.text.tokenizer == "words"  # text keys merged onto the size
    assert JiTConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['pach'\] in JiTConfig; expected one of \[.*'size'"):
        JiTConfig.from_dict({"pach": 8})
    with pytest.raises(ValueError, match="unknown JiT model size"):
        JiTConfig.from_dict({"size": "jit-xxl"})
    with pytest.raises(ValueError, match="heads"):
        JiTConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="storage_dtype"):
        JiTConfig(storage_dtype="int8")
    with pytest.raises(ValueError, match="has no answer loss"):
        JiTConfig(answer_loss={"referring": 1.0})


def test_answer_loss_is_inherited_from_the_tiny_training_loss():
    plain = _micro()
    torch.manual_seed(0)
    weighted = JiTBackend.from_config({**MICRO, "answer_loss": {"depth": 1.0, "normals": 1.0}})
    weighted.load_state_dict(plain.state_dict())
    b = _batch(s=8)
    b.one_step = torch.tensor([True, True, False, False])
    with torch.no_grad():
        base = plain.training_loss(b, torch.Generator().manual_seed(1)).item()
        assert weighted.training_loss(b, torch.Generator().manual_seed(1)).item() > base + 0.01
        assert weighted.training_loss(b, torch.Generator().manual_seed(1), auxiliary=False).item() == base


def test_position_embedding_distinct_and_bounded():
    pe = position_embedding(3, 5, 16, torch.device("cpu"))
    assert pe.shape == (15, 16)
    assert pe.abs().max() <= 1.0
    # every position differs from every other
    d = torch.cdist(pe, pe) + torch.eye(15) * 10
    assert d.min() > 0.1
    # row half depends on the row only: positions (0, 0) and (0, 4) share it
    torch.testing.assert_close(pe[0, :8], pe[4, :8])


def test_fresh_network_predicts_zero_image():
    """Zero-initialised output and refinement: a fresh network's clean image is 0 (mid-grey), so
    its velocity is x_t / t."""
    torch.manual_seed(0)
    net = JiT(JiTConfig.from_dict(MICRO))
    x = torch.randn(2, 3, 8, 8)
    t = torch.tensor([0.5, 1.0])
    text = net.text(["a", "b"])
    v = net(x, t, torch.zeros_like(x), torch.tensor([True, False]), text, torch.tensor([False, True]))
    torch.testing.assert_close(v, x / t[:, None, None, None])


def test_inputs_reach_output():
    m = _micro()
    b = _batch(B=2, s=8)
    text = m.net.text(b.prompts)
    t = torch.tensor([0.3, 0.7])
    one = torch.zeros(2, dtype=torch.bool)
    base = m.net(b.target, t, b.cond, b.has_cond, text, one)
    assert base.shape == (2, 3, 8, 8)
    # the image condition, the text, the mode and the time all change the output
    assert not torch.allclose(base, m.net(b.target, t, -b.cond, b.has_cond, text, one))
    assert not torch.allclose(base, m.net(b.target, t, b.cond, b.has_cond, m.net.text(["x", "y"]), one))
    assert not torch.allclose(base, m.net(b.target, t, b.cond, b.has_cond, text, ~one))
    assert not torch.allclose(base, m.net(b.target, t.flip(0), b.cond, b.has_cond, text, one))
    # sample 0 does not see sample 1
    other = m.net(torch.cat([b.target[:1], -b.target[1:]]), t, b.cond, b.has_cond, text, one)
    torch.testing.assert_close(other[0], base[0])


def test_resolution_errors():
    m = _micro()
    with pytest.raises(ValueError, match="multiples of 4"):
        m.sample(None, ["a"], height=10, width=8, one_step=True)


def test_one_step_regression_learns():
    """The one-step mode on a fixed batch is plain regression: the loss must fall by > 3x."""
    m = _micro(randomize_zero=False)
    b = _batch(s=8)
    b.one_step = torch.ones(4, dtype=torch.bool)
    losses = fit(m, b, lr=3e-3, steps=40)
    assert losses[-1] < losses[0] / 3, (losses[0], losses[-1])


def test_sampling_seeded_and_bounded():
    m = _micro()
    cond = _batch(B=2, s=8).cond
    a = m.sample(cond, ["a", "b"], height=8, width=8, num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    b = m.sample(cond, ["a", "b"], height=8, width=8, num_inference_steps=3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert a.shape == (2, 3, 8, 8) and a.abs().max() <= 1
    g = m.sample(cond, ["a", "b"], height=8, width=8, num_inference_steps=2, guidance_text=2.0, guidance_image=1.5,
                 generator=torch.Generator().manual_seed(1))
    assert g.shape == (2, 3, 8, 8)


def test_save_load_round_trip(tmp_path):
    m = _micro()
    m.config.storage_dtype = "float32"
    m.save_pretrained(tmp_path / "jit")
    back = BACKENDS.get("jit").from_pretrained(tmp_path / "jit")
    assert back.config == m.config
    b = _batch(B=2, s=8)
    with torch.no_grad():
        torch.testing.assert_close(back.sample(b.cond, b.prompts, height=8, width=8, one_step=True),
                                   m.sample(b.cond, b.prompts, height=8, width=8, one_step=True))
    with pytest.raises(ValueError, match="not a 'tiny' backend"):
        BACKENDS.get("tiny").from_pretrained(tmp_path / "jit")


@pytest.mark.slow
def test_trains_exports_and_answers_through_the_pipeline(tmp_path):
    """``"backend": "jit"`` in a training config: the trainer learns, exports a pipeline that loads
    back as a JiT, and the pipeline answers a depth instruction."""
    import numpy as np

    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.training.config import TrainConfig
    from openbanana.training.loop import train

    cfg = TrainConfig.from_dict({
        "backend": "jit", "backend_config": {**MICRO, "storage_dtype": "float32"}, "data_source": "toy",
        "resolution": 16, "batch_size": 8, "ckpt_every": 0, "eval_batches": 2, "ema_decay": 0.9,
        "stages": [{"name": "pretrain", "data": {"vision_share": 0.3}, "steps": 20, "lr": 3e-3, "warmup_steps": 2}]})
    out = train(cfg, tmp_path / "run", progress=False)
    pipe = OpenBananaPipeline.from_pretrained(out)
    assert type(pipe.backend) is JiTBackend and pipe.backend.config.patch == 4
    hist = pipe.config.training["history"]
    assert hist[-1]["heldout"]["gen"]["generation"] < 0.9 * hist[0]["heldout"]["gen"]["generation"]
    image = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    pred = pipe.predict(image, "Estimate the depth of this image.")
    assert pred.task == "depth" and pred.answer.shape == (16, 16) and pred.raw.shape == (16, 16, 3)
    assert np.isfinite(pred.answer[pred.valid]).all() and (pred.answer[pred.valid] >= 0).all()
