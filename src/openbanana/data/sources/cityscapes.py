"""Cityscapes val (fine annotations), the 19 training classes.

Official layout (from https://www.cityscapes-dataset.com, packages ``leftImg8bit_trainvaltest.zip``
and ``gtFine_trainvaltest.zip``)::

    <root>/leftImg8bit/val/<city>/<city>_<seq>_<frame>_leftImg8bit.png      (2048 x 1024 RGB)
    <root>/gtFine/val/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png       (label ids 0..33, -1)

Ground truth is read as label ids and mapped to the 19 train ids (everything else -> 255, void),
the mapping being the official ``labels.py`` table. The prompt is one fixed instruction listing
all 19 classes with their official colours (as the paper does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openbanana.data.sources.base import (
    SOURCES,
    DataSource,
    Record,
    Target,
    check_same_size,
    read_rgb,
    read_single_channel,
    require_dir,
)
from openbanana.errors import DataLayoutError

#: (train id order) name, official label id, official colour
CITYSCAPES_CLASSES: tuple[tuple[str, int, tuple[int, int, int]], ...] = (
    ("road", 7, (128, 64, 128)),
    ("sidewalk", 8, (244, 35, 232)),
    ("building", 11, (70, 70, 70)),
    ("wall", 12, (102, 102, 156)),
    ("fence", 13, (190, 153, 153)),
    ("pole", 17, (153, 153, 153)),
    ("traffic light", 19, (250, 170, 30)),
    ("traffic sign", 20, (220, 220, 0)),
    ("vegetation", 21, (107, 142, 35)),
    ("terrain", 22, (152, 251, 152)),
    ("sky", 23, (70, 130, 180)),
    ("person", 24, (220, 20, 60)),
    ("rider", 25, (255, 0, 0)),
    ("car", 26, (0, 0, 142)),
    ("truck", 27, (0, 0, 70)),
    ("bus", 28, (0, 60, 100)),
    ("train", 31, (0, 80, 100)),
    ("motorcycle", 32, (0, 0, 230)),
    ("bicycle", 33, (119, 11, 32)),
)
CLASS_NAMES: tuple[str, ...] = tuple(c[0] for c in CITYSCAPES_CLASSES)
#: the fixed palette of the Cityscapes prompt: class -> colour
PALETTE: dict[str, tuple[int, int, int]] = {name: color for name, _, color in CITYSCAPES_CLASSES}

LABEL_TO_TRAIN = np.full(256, 255, dtype=np.uint8)
TRAIN_TO_LABEL = np.zeros(256, dtype=np.uint8)  # 255 (no class) -> 0 ("unlabeled", ignored in eval)
for _t, (_, _lid, _) in enumerate(CITYSCAPES_CLASSES):
    LABEL_TO_TRAIN[_lid] = _t
    TRAIN_TO_LABEL[_t] = _lid


class CityscapesSource(DataSource):
    """Cityscapes ``split`` (default ``val``, 500 images) with 19-class train-id targets."""

    layout = "<root>/leftImg8bit/<split>/<city>/*_leftImg8bit.png + <root>/gtFine/<split>/<city>/*_gtFine_labelIds.png"

    def __init__(self, root: Path, split: str = "val"):
        self.root = Path(root)
        img_dir = require_dir(self.root / "leftImg8bit" / split, "Cityscapes leftImg8bit/<split>")
        gt_dir = require_dir(self.root / "gtFine" / split, "Cityscapes gtFine/<split>")
        self.images = sorted(img_dir.glob("*/*_leftImg8bit.png"))
        if not self.images:
            raise DataLayoutError(
                f"{img_dir}: expected <city>/<city>_<seq>_<frame>_leftImg8bit.png files, found none"
            )
        self.labels = []
        for img in self.images:
            stem = img.name[: -len("_leftImg8bit.png")]
            self.labels.append(gt_dir / img.parent.name / f"{stem}_gtFine_labelIds.png")

    def __len__(self) -> int:
        return len(self.images)

    def record_id(self, index: int) -> str:
        return self.images[index].name[: -len("_leftImg8bit.png")]

    def __getitem__(self, index: int) -> Record:
        image = read_rgb(self.images[index], "Cityscapes leftImg8bit image")
        label_path = self.labels[index]
        label_ids = read_single_channel(label_path, "Cityscapes gtFine labelIds", ("uint8",))
        check_same_size(image, label_ids, label_path, "a label map")
        gt = LABEL_TO_TRAIN[label_ids]
        target = Target(
            task="semantic",
            gt=gt,
            spec={"palette": dict(PALETTE)},
            meta={"gt_path": str(label_path)},
        )
        return Record(id=self.record_id(index), image=image, targets=[target])


SOURCES.register("cityscapes", CityscapesSource)
