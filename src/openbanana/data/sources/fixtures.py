"""Tiny data sets written in each benchmark's official on-disk layout.

The tests write these to a temporary folder and read them back through the adapters (nothing can
be downloaded here); ``benchmarks/bench_eval.py`` and the docs use them too. Each writer returns
the ground truth it wrote so callers can check values exactly. Images are random but seeded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def _rgb(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_cityscapes(
    root: Path, n: int = 3, size: tuple[int, int] = (32, 64), seed: int = 0
) -> list[np.ndarray]:
    """``<root>/leftImg8bit/val/<city>/...`` and ``<root>/gtFine/val/<city>/..._gtFine_labelIds.png``.

    Returns the label-id maps written (uint8).
    """
    from openbanana.data.sources.cityscapes import CITYSCAPES_CLASSES

    rng = np.random.default_rng(seed)
    ids = np.array([c[1] for c in CITYSCAPES_CLASSES] + [0, 1, 4], dtype=np.uint8)  # + void ids
    out = []
    for i in range(n):
        city = ("frankfurt", "lindau", "munster")[i % 3]
        stem = f"{city}_{i:06d}_{19 + i:06d}"
        img_dir = root / "leftImg8bit" / "val" / city
        gt_dir = root / "gtFine" / "val" / city
        img_dir.mkdir(parents=True, exist_ok=True)
        gt_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb(rng, *size)).save(img_dir / f"{stem}_leftImg8bit.png")
        lab = ids[rng.integers(0, len(ids), size)]
        Image.fromarray(lab).save(gt_dir / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(_rgb(rng, *size)).save(gt_dir / f"{stem}_gtFine_color.png")  # present in the release
        out.append(lab)
    return out


def write_nyuv2(root: Path, n: int = 3, seed: int = 0) -> list[np.ndarray]:
    """``<root>/filename_list_test.txt`` + ``test/<scene>/{rgb,depth,filled}_<idx>.png`` (480 x 640,
    depth uint16 millimetres). Returns the depth maps written, in metres."""
    rng = np.random.default_rng(seed)
    lines, out = [], []
    for i in range(n):
        scene = ("bathroom", "bedroom", "kitchen")[i % 3]
        d = root / "test" / scene
        d.mkdir(parents=True, exist_ok=True)
        idx = f"{i * 7 + 1:05d}"
        Image.fromarray(_rgb(rng, 480, 640)).save(d / f"rgb_{idx}.png")
        mm = rng.integers(500, 9000, (480, 640)).astype(np.uint16)
        mm[rng.random((480, 640)) < 0.05] = 0  # holes
        Image.fromarray(mm).save(d / f"depth_{idx}.png")
        Image.fromarray(np.maximum(mm, 500)).save(d / f"filled_{idx}.png")
        lines.append(f"test/{scene}/rgb_{idx}.png test/{scene}/depth_{idx}.png test/{scene}/filled_{idx}.png")
        out.append(mm.astype(np.float32) / 1000.0)
    (root / "filename_list_test.txt").write_text("\n".join(lines) + "\n")
    return out


def fixture_writers() -> dict[str, Any]:
    """benchmark name -> writer(root, ...)"""
    return {"cityscapes": write_cityscapes, "nyuv2": write_nyuv2}


def write_refcocog(root: Path, seed: int = 0, pickle_refs: bool = True) -> dict[str, Any]:
    """``<root>/refcocog/{refs(umd).p, instances.json}`` + ``<root>/images/train2014/*.jpg``.

    Two images; image 1 has two refs (one with two sentences), image 2 one ref; one ref is in the
    train split (must be skipped). Masks are axis-aligned rectangles given as COCO polygons.
    Returns ``{"masks": {(ref_id): bool mask}, "sentences": {(ref_id, sent_id): text}}``.
    """
    import json
    import pickle

    rng = np.random.default_rng(seed)
    (root / "refcocog").mkdir(parents=True, exist_ok=True)
    img_dir = root / "images" / "train2014"
    img_dir.mkdir(parents=True, exist_ok=True)
    images, anns, refs, masks, sents = [], [], [], {}, {}
    boxes = {  # ann_id: (image_id, x0, y0, x1, y1)
        11: (101, 2, 3, 12, 9),
        12: (101, 15, 5, 30, 20),
        21: (202, 0, 0, 8, 8),
        22: (202, 10, 10, 20, 18),
    }
    for image_id, (h, w) in ((101, (24, 32)), (202, (20, 24))):
        name = f"COCO_train2014_{image_id:012d}.jpg"
        Image.fromarray(_rgb(rng, h, w)).save(img_dir / name, quality=95)
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
    for ann_id, (image_id, x0, y0, x1, y1) in boxes.items():
        poly = [x0, y0, x1, y0, x1, y1, x0, y1]
        anns.append(
            {
                "id": ann_id,
                "image_id": image_id,
                "category_id": 1,
                "segmentation": [[float(v) for v in poly]],
                "area": float((x1 - x0) * (y1 - y0)),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "iscrowd": 0,
            }
        )
    spec = [  # ref_id, ann_id, split, sentences
        (1, 11, "val", ["the small box on the left", "left thing"]),
        (2, 12, "val", ["the big box"]),
        (3, 22, "val", ["bottom right square"]),
        (4, 21, "train", ["a training ref"]),
    ]
    for ref_id, ann_id, split, texts in spec:
        image_id = boxes[ann_id][0]
        sentences = [
            {"sent_id": ref_id * 10 + k, "sent": t, "raw": t, "tokens": t.split()}
            for k, t in enumerate(texts)
        ]
        refs.append(
            {
                "ref_id": ref_id,
                "ann_id": ann_id,
                "image_id": image_id,
                "split": split,
                "category_id": 1,
                "sent_ids": [s["sent_id"] for s in sentences],
                "sentences": sentences,
                "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
            }
        )
        if split == "val":
            _, x0, y0, x1, y1 = boxes[ann_id]
            masks[ref_id] = (x0, y0, x1, y1)
            for s in sentences:
                sents[(ref_id, s["sent_id"])] = s["sent"]
    doc = {
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "thing", "supercategory": "x"}],
    }
    (root / "refcocog" / "instances.json").write_text(json.dumps(doc))
    if pickle_refs:
        (root / "refcocog" / "refs(umd).p").write_bytes(pickle.dumps(refs, protocol=2))
    else:
        (root / "refcocog" / "refs_umd.json").write_text(json.dumps(refs))
    return {"boxes": masks, "sentences": sents}
