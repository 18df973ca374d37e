"""Pieces shared by the depth adapters: evaluation crops and depth file decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openbanana.data.sources.base import read_single_channel
from openbanana.errors import DataLayoutError

#: NYUv2 Eigen crop on 480 x 640 images: rows 45:471, columns 41:601
NYU_EIGEN_CROP = (45, 471, 41, 601)
NYU_SIZE = (480, 640)


def eigen_crop_mask(shape: tuple[int, int], path: Path) -> np.ndarray:
    """Valid-region mask of the NYUv2 Eigen crop; the image must be 480 x 640."""
    if tuple(shape) != NYU_SIZE:
        raise DataLayoutError(
            f"{path}: expected a 480 x 640 NYUv2 depth map (the Eigen crop needs it), got {shape}"
        )
    m = np.zeros(shape, dtype=bool)
    r0, r1, c0, c1 = NYU_EIGEN_CROP
    m[r0:r1, c0:c1] = True
    return m


def garg_crop_mask(shape: tuple[int, int]) -> np.ndarray:
    """The Garg crop used for the KITTI Eigen split (fractions of the image size)."""
    h, w = shape
    m = np.zeros(shape, dtype=bool)
    m[int(0.40810811 * h) : int(0.99189189 * h), int(0.03594771 * w) : int(0.96405229 * w)] = True
    return m


def read_depth_png(path: Path, scale: float, what: str) -> np.ndarray:
    """A 16-bit depth PNG as metres: ``value / scale``; 0 means no measurement (returned as 0)."""
    raw = read_single_channel(path, what, ("uint16",))
    return (raw.astype(np.float32) / np.float32(scale)).astype(np.float32)
