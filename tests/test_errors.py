"""The helpers that keep a user's text short in one-line error messages."""

from __future__ import annotations

from openbanana.errors import QUOTE_LIMIT, quoted, shorten


def test_short_text_is_kept_whole():
    assert shorten("estimate the depth") == "estimate the depth"
    assert quoted("estimate the depth") == "'estimate the depth'"
    assert shorten("x" * QUOTE_LIMIT) == "x" * QUOTE_LIMIT


def test_long_text_is_cut_with_an_ellipsis():
    text = "word " * 200
    assert shorten(text) == text[:80].rstrip() + "…"
    assert quoted(text) == repr(text[:80].rstrip() + "…")
    assert shorten("abcdef", limit=3) == "abc…"
