"""The helpers of one-line error messages: short quotes of a user's text, and config key checks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from openbanana.errors import QUOTE_LIMIT, check_config_keys, quoted, shorten


@dataclass
class _Cfg:
    steps: int = 1
    lr: float = 0.1


def test_short_text_is_kept_whole():
    assert shorten("estimate the depth") == "estimate the depth"
    assert quoted("estimate the depth") == "'estimate the depth'"
    assert shorten("x" * QUOTE_LIMIT) == "x" * QUOTE_LIMIT


def test_long_text_is_cut_with_an_ellipsis():
    text = "word " * 200
    assert shorten(text) == text[:80].rstrip() + "…"
    assert quoted(text) == repr(text[:80].rstrip() + "…")
    assert shorten("abcdef", limit=3) == "abc…"


def test_config_keys_are_checked_against_the_fields_and_extras():
    check_config_keys(_Cfg, {"steps": 2}, "Cfg")
    check_config_keys(_Cfg, {"size": "s", "lr": 1.0}, "Cfg", extra=("size",))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['setps', 'size'\] in Cfg; "
                                         r"expected one of \['lr', 'steps'\]"):
        check_config_keys(_Cfg, {"setps": 2, "size": "s"}, "Cfg")
    with pytest.raises(TypeError, match="Cfg must be a JSON object, got list"):
        check_config_keys(_Cfg, [1], "Cfg")
