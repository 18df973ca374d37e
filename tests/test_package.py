"""The package's public surface: ``__all__`` names exactly what ``import openbanana`` serves lazily."""

from __future__ import annotations

import pytest

import openbanana


def test_all_lists_every_lazy_name_and_the_version():
    assert sorted(openbanana.__all__) == sorted(["__version__", *openbanana._LAZY])
    assert dir(openbanana) == sorted(openbanana.__all__)


@pytest.mark.parametrize("name", sorted(openbanana._LAZY))
def test_every_public_name_resolves(name):
    assert getattr(openbanana, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        openbanana.nope  # noqa: B018
