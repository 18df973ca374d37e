"""Photometric jitter of a vision sample's input picture: contrast, brightness, gamma, saturation,
and (separately) a colour cast.

A picture's depth, normals, classes, instances and referents do not change when its light does, so a
vision sample may show its scene with other contrast and exposure and keep its target. The training
renderer lights every room its own way; a model trained on it alone reads depth from that lighting
(on rooms from a second renderer, low contrast costs it most: ``docs/diagnosis.md``).
:func:`photometric_jitter` never changes hue, so colour words in instructions ("the red chair")
stay true. :func:`color_cast` tints the picture as light of another colour would (a white-balance
error: each channel scaled by 0.8-1.25, brightness kept), which moves hues a little but not far
enough to rename a colour; a model that reads depth from the colour of the light answers an orange
dusk as if it were a room (``docs/diagnosis.md``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> photometric_jitter(np.full((2, 2, 3), 128, np.uint8), rng).shape
    (2, 2, 3)
"""

from __future__ import annotations

import numpy as np

#: factor on the deviation from the picture's mean
CONTRAST = (0.4, 1.3)
#: added to every channel, in units of full scale
BRIGHTNESS = (-0.12, 0.12)
#: exponent on the [0, 1] values (> 1 darkens the mid-tones)
GAMMA = (0.7, 1.5)
#: factor on each pixel's deviation from its grey
SATURATION = (0.5, 1.3)
#: gain of one colour channel relative to the others (drawn log-uniformly per channel)
CAST = (0.8, 1.25)


def jitter_image(rgb: np.ndarray, contrast: float, brightness: float, gamma: float, saturation: float) -> np.ndarray:
    """``rgb`` uint8 ``(H, W, 3)`` with the given changes, in this order; returns uint8 of the same shape."""
    x = np.asarray(rgb, np.float32) / 255.0
    mean = x.mean()
    x = np.clip((x - mean) * contrast + mean + brightness, 0.0, 1.0) ** gamma
    grey = x.mean(-1, keepdims=True)
    x = np.clip(grey + (x - grey) * saturation, 0.0, 1.0)
    return np.round(x * 255.0).astype(np.uint8)


def photometric_jitter(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` with contrast, brightness, gamma and saturation drawn uniformly from the ranges above
    (four draws from ``rng``, in that order)."""
    c, b, g, s = (rng.uniform(*r) for r in (CONTRAST, BRIGHTNESS, GAMMA, SATURATION))
    return jitter_image(rgb, c, b, g, s)


def cast_image(rgb: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """``rgb`` uint8 ``(H, W, 3)`` with each channel times its gain, the gains rescaled to mean 1 so that
    the picture's brightness stays; returns uint8 of the same shape."""
    g = np.asarray(gains, np.float32)
    if g.shape != (3,) or not np.all(g > 0):
        raise ValueError(f"gains: expected three positive numbers, got {gains!r}")
    x = np.asarray(rgb, np.float32) * (g / g.mean())
    return np.round(np.clip(x, 0.0, 255.0)).astype(np.uint8)


def color_cast(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` under light of another colour: :func:`cast_image` with three gains drawn log-uniformly
    from :data:`CAST` (three draws from ``rng``)."""
    lo, hi = np.log(CAST)
    return cast_image(rgb, tuple(np.exp(rng.uniform(lo, hi, 3))))


def grey_world(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` uint8 ``(H, W, 3)`` white-balanced by the grey-world rule: each channel scaled so that
    its mean becomes the mean of the three (a :func:`cast_image` is undone up to brightness);
    returns uint8 of the same shape."""
    x = np.asarray(rgb, np.float32)
    means = np.maximum(x.reshape(-1, 3).mean(0), 1.0)
    return np.round(np.clip(x * (means.mean() / means), 0.0, 255.0)).astype(np.uint8)
