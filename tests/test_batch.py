"""The pixel convention and the one collate (openbanana.batch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openbanana import batch as B
from openbanana.backends.base import Batch as BackendBatch


def test_every_uint8_value_round_trips_exactly():
    u = torch.arange(256, dtype=torch.uint8)
    x = B.u8_to_unit(u)
    assert x.dtype == torch.float32 and x.min() == -1 and x.max() == 1
    assert torch.equal(B.unit_to_u8(x), u)
    assert B.unit_to_u8(torch.tensor([-3.0, 2.0, 0.0])).tolist() == [0, 255, 128]  # clipped; 127.5 rounds to even


def test_images_round_trip_through_the_model_layout():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    x = B.images_to_unit(images)
    assert x.shape == (2, 3, 5, 7) and x.dtype == torch.float32
    torch.testing.assert_close(B.images_to_unit(list(images)), x)
    torch.testing.assert_close(B.image_to_unit(images[1]), x[1])
    back = B.unit_to_images(x.to(torch.bfloat16).float())
    assert back.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(B.unit_to_images(x), images)


def test_collate_stacks_samples_and_zeros_missing_conditions():
    img = np.full((4, 4, 3), 255, np.uint8)
    samples = [{"target": img, "cond": None, "prompt": "a", "task": "t2i"},
               {"target": img, "cond": img, "prompt": "b", "task": "depth"}]
    batch = B.collate(samples)
    assert isinstance(batch, BackendBatch) and BackendBatch is B.Batch
    assert batch.target.shape == batch.cond.shape == (2, 3, 4, 4) and (batch.target == 1).all()
    assert batch.has_cond.tolist() == [False, True] and (batch.cond[0] == 0).all() and (batch.cond[1] == 1).all()
    assert batch.prompts == ["a", "b"] and batch.tasks == ["t2i", "depth"]
    with pytest.raises(ValueError, match="at least one sample"):
        B.collate([])
