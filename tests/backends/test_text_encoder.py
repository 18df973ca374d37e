import pytest
import torch

from openbanana.backends.text import CLS, PAD, TextEncoder, TextEncoderConfig, tokenize


def test_tokenize_bytes_digits_padding_truncation():
    ids, mask = tokenize(["(128, 64)", ""], max_len=160)
    assert ids.shape == (2, 10)
    assert ids[0, 0] == CLS and ids[0, 1:].tolist() == list(b"(128, 64)")
    assert ids[1].tolist() == [CLS] + [PAD] * 9
    assert mask.sum(1).tolist() == [10, 1]
    ids, _ = tokenize(["é" * 100], max_len=16)
    assert ids.shape == (1, 16)
    with pytest.raises(TypeError):
        tokenize("not a list")


def test_encoder_padding_invariance_and_digit_sensitivity():
    torch.manual_seed(0)
    enc = TextEncoder(TextEncoderConfig(dim=32, layers=2, heads=2)).eval()
    with torch.no_grad():
        f1 = enc(["color (128, 64, 128)"])
        f2 = enc(["color (128, 64, 128)", "a much longer prompt that forces padding of the first"])
        tok1, p1, tok2, p2 = f1.tokens, f1.pooled, f2.tokens, f2.pooled
        p3 = enc(["color (128, 64, 129)"]).pooled
    assert tok1.shape == (1, 21, 32) and p1.shape == (1, 32)
    torch.testing.assert_close(p1[0], p2[0], atol=1e-5, rtol=0)
    assert (tok2[0, 21:] == 0).all()
    assert (p1 - p3).abs().max() > 1e-4


@pytest.mark.parametrize("max_len", [2, 5, 160])
def test_tokenize_matches_bytes_row_by_row(max_len):
    prompts = ["", "héllo wörld ✓", "rgb(128, 64, 0)", "x" * 40, ""]
    ids, mask = tokenize(prompts, max_len)
    rows = [[CLS, *p.encode("utf-8")][:max_len] for p in prompts]
    assert ids.shape == (5, max(len(r) for r in rows)) and ids.dtype == torch.long
    for i, r in enumerate(rows):
        assert ids[i, : len(r)].tolist() == r
        assert (ids[i, len(r):] == PAD).all()
        assert mask[i].sum().item() == len(r)


def test_tokenize_empty_batch():
    ids, mask = tokenize([], 160)
    assert ids.shape == mask.shape == (0, 1)


def test_length_groups_give_the_features_of_one_padded_batch():
    """Prompts of very different lengths are encoded in groups (a 1000-byte palette does not make
    every 20-byte instruction pay for 1000 positions); the features equal the one-batch ones."""
    torch.manual_seed(0)
    enc = TextEncoder(TextEncoderConfig(dim=32, layers=2, heads=2, max_len=1100)).eval()
    prompts = ["p" * 1000, "depth", "", "x" * 40, "y" * 300, "zz"]
    with torch.no_grad():
        f = enc(prompts)
        tok, mask, pooled, has_rgb = f.tokens, f.mask, f.pooled, f.has_rgb
        ids, m = tokenize(prompts, 1100)
        ref = enc.norm(enc._encode(enc.tok(ids) + enc.pos[: ids.shape[1]], m)) * m[..., None]
    assert torch.equal(mask, m) and not has_rgb.any()  # bytes name no colours
    assert torch.allclose(tok, ref, atol=1e-5)
    assert torch.allclose(pooled, ref.sum(1) / m.sum(1, keepdim=True), atol=1e-5)
