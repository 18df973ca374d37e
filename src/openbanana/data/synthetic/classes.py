"""The fixed, named class list of the synthetic world and its colour palette.

Classes that also exist in Cityscapes use the Cityscapes colour (road, sidewalk, building, wall,
pole, sign, vegetation -> tree/plant, terrain, sky, person, car); the rest get distinct colours.
The list order is the label id written into ``Scene.semantic`` (255 = ignore).
"""

from __future__ import annotations

import numpy as np

IGNORE = 255

#: (name, RGB colour, is_thing) in label-id order.
_TABLE: tuple[tuple[str, tuple[int, int, int], bool], ...] = (
    ("floor", (128, 64, 0), False),
    ("wall", (102, 102, 156), False),  # Cityscapes wall
    ("ceiling", (180, 165, 180), False),
    ("door", (250, 170, 160), True),
    ("window", (0, 220, 220), True),
    ("table", (255, 127, 14), True),
    ("chair", (214, 39, 40), True),
    ("sofa", (148, 103, 189), True),
    ("bed", (140, 86, 75), True),
    ("shelf", (227, 119, 194), True),
    ("cabinet", (188, 189, 34), True),
    ("lamp", (250, 170, 30), True),  # Cityscapes traffic light's orange, for a light source
    ("tv", (31, 119, 180), True),
    ("rug", (255, 187, 120), True),
    ("painting", (174, 199, 232), True),
    ("ball", (255, 0, 255), True),
    ("bottle", (0, 255, 127), True),
    ("cup", (255, 255, 128), True),
    ("box", (160, 110, 255), True),
    ("book", (128, 0, 64), True),
    ("vase", (64, 0, 128), True),
    ("plant", (0, 128, 0), True),
    ("toy", (255, 60, 120), True),
    ("road", (128, 64, 128), False),  # Cityscapes
    ("sidewalk", (244, 35, 232), False),  # Cityscapes
    ("building", (70, 70, 70), False),  # Cityscapes
    ("car", (0, 0, 142), True),  # Cityscapes
    ("tree", (107, 142, 35), True),  # Cityscapes vegetation
    ("pole", (153, 153, 153), True),  # Cityscapes
    ("person", (220, 20, 60), True),  # Cityscapes
    ("bench", (190, 153, 153), True),  # Cityscapes fence colour (nearest street furniture)
    ("terrain", (152, 251, 152), False),  # Cityscapes
    ("sky", (70, 130, 180), False),  # Cityscapes
    ("sign", (220, 220, 0), True),  # Cityscapes traffic sign
)

CLASSES: tuple[str, ...] = tuple(name for name, _, _ in _TABLE)
CLASS_COLORS: np.ndarray = np.array([c for _, c, _ in _TABLE], dtype=np.uint8)
CLASS_COLORS.setflags(write=False)
THING_CLASSES: frozenset[str] = frozenset(name for name, _, thing in _TABLE if thing)
CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

# Affordances used by reasoning queries (one step of thought from the scene graph).
SITTABLE = frozenset({"chair", "sofa", "bed", "bench"})
LIGHT_SOURCES = frozenset({"lamp"})
DRINKABLE_FROM = frozenset({"cup", "bottle"})
PLANTS = frozenset({"plant", "tree"})
VEHICLES = frozenset({"car"})


def class_id(name: str) -> int:
    """Label id of a class name; raises ValueError listing the classes on a miss."""
    try:
        return CLASS_ID[name]
    except KeyError:
        raise ValueError(f"unknown class {name!r}; expected one of: {', '.join(CLASSES)}") from None
