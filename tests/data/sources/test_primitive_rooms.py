"""The primitive-rooms source: records of the second renderer with depth and normals targets."""

from __future__ import annotations

import numpy as np
import pytest

from openbanana.data.primitive_rooms import render_primitive_room
from openbanana.data.sources.base import SOURCES
from openbanana.data.sources.primitive_rooms import PrimitiveRoomsSource


def test_records_are_the_rooms():
    src = PrimitiveRoomsSource(size=24, length=3)
    assert len(src) == 3 and SOURCES.get("primitive-rooms") is PrimitiveRoomsSource
    rec = src[2]
    room = render_primitive_room(2, size=24)
    assert rec.id == "room-00002" and np.array_equal(rec.image, room.rgb)
    assert [t.task for t in rec.targets] == ["depth", "normals"]
    assert np.array_equal(rec.targets[0].gt, room.depth_m) and np.array_equal(rec.targets[1].gt, room.normals)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="size >= 8"):
        PrimitiveRoomsSource(size=4)
    with pytest.raises(IndexError, match="out of range 0..1"):
        PrimitiveRoomsSource(size=16, length=2)[2]
