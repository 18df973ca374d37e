"""The primitive-rooms benchmark's data: rooms of boxes, balls and cylinders from a second renderer
(:mod:`openbanana.data.primitive_rooms`), drawn on the fly.

Record ``i`` is ``render_primitive_room(seed=i, size=size)``; it asks for metric depth and surface
normals, whose ground truth is exact (closed-form ray casting). None of the training renderer's
code, textures, lights or camera rules is used, so scores here show what a model trained on
:mod:`openbanana.data.synthetic` keeps on rooms it was not drawn from.
"""

from __future__ import annotations

import numpy as np

from openbanana.data.primitive_rooms import render_primitive_room
from openbanana.data.sources.base import SOURCES, DataSource, Record, Target

DEFAULT_LEN = 500


class PrimitiveRoomsSource(DataSource):
    """``length`` rooms at ``size`` pixels (square)."""

    layout = "rendered on the fly by openbanana.data.primitive_rooms.render_primitive_room(seed=i, size)"

    def __init__(self, size: int = 128, length: int = DEFAULT_LEN):
        if size < 8 or length < 1:
            raise ValueError(f"primitive rooms: expected size >= 8 and length >= 1, got {size}, {length}")
        self.size, self.length = int(size), int(length)

    def __len__(self) -> int:
        return self.length

    def record_id(self, index: int) -> str:
        return f"room-{index:05d}"

    def __getitem__(self, index: int) -> Record:
        if not 0 <= index < self.length:
            raise IndexError(f"primitive rooms: index {index} out of range 0..{self.length - 1}")
        room = render_primitive_room(index, size=self.size)
        targets = [Target(task="depth", gt=room.depth_m, key="depth"),
                   Target(task="normals", gt=room.normals, key="normals")]
        return Record(id=self.record_id(index), image=np.asarray(room.rgb, np.uint8), targets=targets)


SOURCES.register("primitive-rooms", PrimitiveRoomsSource)
