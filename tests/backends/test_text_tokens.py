"""The word tokenizer: hashed words, colours with their RGB value, stable ids, clear errors."""

import pytest
import torch

from openbanana.backends.text import TextEncoder, TextEncoderConfig
from openbanana.backends.text_tokens import (
    TOKENIZERS,
    WORD_CLS,
    WORD_COLOR,
    WORD_PAD,
    byte_tokens,
    vocab_size,
    word_pieces,
    word_tokens,
)


def test_word_pieces_read_every_colour_notation():
    pieces = word_pieces("Paint the Chair in (214, 39, 40), the rug #FF0000; sky = rgb(0,0,255) and light blue")
    words = [p for p, _ in pieces]
    colors = [c for _, c in pieces if c is not None]
    assert words[:4] == ["paint", "the", "chair", "in"]
    assert colors == [(214, 39, 40), (255, 0, 0), (0, 0, 255), (173, 216, 230), (173, 216, 230)]
    assert words.count(None) == 3  # the three numeric colours are one token each
    assert ("light", (173, 216, 230)) in pieces and ("blue", (173, 216, 230)) in pieces


def test_unreadable_colours_fall_back_to_words():
    pieces = word_pieces("channel (300, 1, 2) and #12345")
    assert all(c is None for _, c in pieces)
    assert [p for p, _ in pieces][:3] == ["channel", "(", "300"]


def test_word_tokens_ids_padding_colours_and_truncation():
    t = word_tokens(["mask the cat in (255, 0, 0)", "", "depth"], max_len=64, buckets=100)
    assert t.ids.shape == (3, 6) and t.rgb.shape == (3, 6, 3)
    assert t.ids[:, 0].tolist() == [WORD_CLS] * 3
    assert t.ids[0, 5] == WORD_COLOR and t.has_rgb[0].tolist() == [False] * 5 + [True]
    assert torch.equal(t.rgb[0, 5], torch.tensor([1.0, 0.0, 0.0]))
    assert t.ids[1, 1:].tolist() == [WORD_PAD] * 5 and t.mask.sum(1).tolist() == [6, 1, 2]
    assert ((t.ids[t.mask] >= 1) & (t.ids[t.mask] < vocab_size("words", 100))).all()
    # the same word gets the same id in every prompt and every process (CRC-32, not hash())
    assert t.ids[0, 2] == word_tokens(["the"], 8, 100).ids[0, 1]
    assert word_tokens(["a b c d e"], max_len=3, buckets=100).ids.shape == (1, 3)
    with pytest.raises(TypeError):
        word_tokens("not a list")
    with pytest.raises(ValueError, match="buckets"):
        word_tokens(["x"], 8, 0)


def test_registry_and_vocab():
    assert TOKENIZERS.names() == ["bytes", "words"]
    assert vocab_size("bytes", 4096) == 258 and vocab_size("words", 4096) == 4099
    assert byte_tokens(["ab"]).has_rgb.sum() == 0
    with pytest.raises(ValueError, match="unknown tokenizer"):
        TextEncoderConfig(tokenizer="letters")


def test_word_encoder_reads_colour_values_and_is_padding_invariant():
    torch.manual_seed(0)
    enc = TextEncoder(TextEncoderConfig(dim=32, layers=2, heads=2, max_len=64, tokenizer="words", buckets=64)).eval()
    with torch.no_grad():
        a = enc(["the chair is (200, 10, 10)"])
        b = enc(["the chair is (200, 10, 11)"])
        c = enc(["the chair is (200, 10, 10)", "a longer prompt " * 5, ""])
    assert a.tokens.shape == (1, 5, 32)
    assert a.has_rgb.tolist() == [[False, False, False, False, True]]
    torch.testing.assert_close(a.rgb[0, 4], torch.tensor([200, 10, 10]) / 255.0)
    assert (a[2] - b[2]).abs().max() > 1e-5  # one unit of one channel changes the features
    torch.testing.assert_close(a[2][0], c[2][0], atol=1e-5, rtol=0)
    assert (c[0][0, 5:] == 0).all()
