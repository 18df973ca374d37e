"""Tiny data sets written in each benchmark's official on-disk layout.

The tests write these to a temporary folder and read them back through the adapters (nothing can
be downloaded here); ``benchmarks/bench_eval.py`` and the docs use them too. Each writer returns
the ground truth it wrote so callers can check values exactly. Images are random but seeded.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy.io import savemat

from openbanana.data.sources.cityscapes import CITYSCAPES_CLASSES


def _rgb(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_cityscapes(
    root: Path, n: int = 3, size: tuple[int, int] = (32, 64), seed: int = 0
) -> list[np.ndarray]:
    """``<root>/leftImg8bit/val/<city>/...`` and ``<root>/gtFine/val/<city>/..._gtFine_labelIds.png``.

    Returns the label-id maps written (uint8).
    """
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


def write_refcocog(root: Path, seed: int = 0, pickle_refs: bool = True) -> dict[str, Any]:
    """``<root>/refcocog/{refs(umd).p, instances.json}`` + ``<root>/images/train2014/*.jpg``.

    Two images; image 1 has two refs (one with two sentences), image 2 one ref; one ref is in the
    train split (must be skipped). Masks are axis-aligned rectangles given as COCO polygons.
    Returns ``{"masks": {(ref_id): bool mask}, "sentences": {(ref_id, sent_id): text}}``.
    """
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


def write_kitti(root: Path, n: int = 2, size: tuple[int, int] = (40, 120), seed: int = 0) -> list[np.ndarray]:
    """Eigen list (+ one ``None`` line), ``raw/`` frames and ``data_depth_annotated/{train,val}/``
    (uint16, m * 256). Returns the depth maps written, in metres."""
    rng = np.random.default_rng(seed)
    date, lines, out = "2011_09_26", [], []
    for i in range(n):
        drive = f"{date}_drive_{i + 2:04d}_sync"
        frame = f"{i * 5 + 69:010d}.png"
        img_dir = root / "raw" / date / drive / "image_02" / "data"
        sub = ("train", "val")[i % 2]
        gt_dir = root / "data_depth_annotated" / sub / drive / "proj_depth" / "groundtruth" / "image_02"
        img_dir.mkdir(parents=True, exist_ok=True)
        gt_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb(rng, *size)).save(img_dir / frame)
        raw = rng.integers(256 * 2, 256 * 90, size).astype(np.uint16)  # 2..90 m, some beyond 80
        raw[rng.random(size) < 0.7] = 0  # sparse lidar
        Image.fromarray(raw).save(gt_dir / frame)
        lines.append(
            f"{date}/{drive}/image_02/data/{frame} {drive}/proj_depth/groundtruth/image_02/{frame} 721.5377"
        )
        out.append(raw.astype(np.float32) / 256.0)
    lines.insert(1, f"{date}/{date}_drive_0099_sync/image_02/data/0000000001.png None 721.5377")
    (root / "eigen_test_files_with_gt.txt").write_text("\n".join(lines) + "\n")
    return out


def write_diode(
    root: Path, n: int = 2, size: tuple[int, int] = (24, 32), seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """``val/indoors/scene_*/scan_*/<name>{.png,_depth.npy,_depth_mask.npy,_normal.npy}``.
    Returns ``{"depth", "mask", "normal"}`` per image (normal in the file's frame)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        d = root / "val" / "indoors" / f"scene_{i:05d}" / f"scan_{i:05d}"
        d.mkdir(parents=True, exist_ok=True)
        name = f"{i:05d}_{i:05d}_indoors_000_010"
        Image.fromarray(_rgb(rng, *size)).save(d / f"{name}.png")
        depth = rng.uniform(0.8, 12.0, (*size, 1)).astype(np.float32)
        mask = (rng.random(size) > 0.1).astype(np.float32)
        normal = rng.normal(size=(*size, 3)).astype(np.float32)
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        np.save(d / f"{name}_depth.npy", depth)
        np.save(d / f"{name}_depth_mask.npy", mask)
        np.save(d / f"{name}_normal.npy", normal)
        out.append({"depth": depth[..., 0], "mask": mask > 0.5, "normal": normal})
    return out


def write_eth3d(root: Path, n: int = 2, size: tuple[int, int] = (20, 30), seed: int = 0) -> list[np.ndarray]:
    """``<scene>/images/dslr_images/*.JPG`` and raw float32 ``ground_truth_depth/dslr_images/*.JPG``.
    Returns the depth maps (inf where no data)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        scene = ("courtyard", "delivery_area")[i % 2]
        name = f"DSC_{300 + i:04d}.JPG"
        img_dir, gt_dir = (
            root / scene / "images" / "dslr_images",
            root / scene / "ground_truth_depth" / "dslr_images",
        )
        img_dir.mkdir(parents=True, exist_ok=True)
        gt_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb(rng, *size)).save(img_dir / name, format="JPEG", quality=95)
        depth = rng.uniform(1.0, 30.0, size).astype("<f4")
        depth[rng.random(size) < 0.2] = np.inf
        depth.tofile(gt_dir / name)
        out.append(depth)
    return out


def write_ibims1(
    root: Path, n: int = 2, size: tuple[int, int] = (24, 32), seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """``ibims1_core_mat/imagelist.txt`` + ``<name>.mat`` (struct ``data``). Returns the fields."""
    rng = np.random.default_rng(seed)
    d = root / "ibims1_core_mat"
    d.mkdir(parents=True, exist_ok=True)
    names, out = [], []
    for i in range(n):
        name = f"corridor_{i + 1:02d}"
        f = {
            "rgb": _rgb(rng, *size),
            "depth": rng.uniform(0.5, 15.0, size).astype(np.float32),
            "mask_invalid": (rng.random(size) > 0.1).astype(np.uint8),
            "mask_transp": (rng.random(size) > 0.05).astype(np.uint8),
        }
        savemat(d / f"{name}.mat", {"data": f})
        names.append(name)
        out.append(f)
    (d / "imagelist.txt").write_text("\n".join(names) + "\n")
    return out


def write_dsine(root: Path, n: int = 2, size: tuple[int, int] = (24, 32), seed: int = 0) -> list[np.ndarray]:
    """``<scene>/<id>_img.png`` + ``<id>_normal.png`` (DSINE frame, png = (n + 1) / 2 * 255, invalid
    pixels (0, 0, 0)). Returns the uint8 normal PNGs written."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        d = root / f"scene{i:04d}_00"
        d.mkdir(parents=True, exist_ok=True)
        n_ = rng.normal(size=(*size, 3))
        n_[..., 2] = np.abs(n_[..., 2])  # facing the camera
        n_ /= np.linalg.norm(n_, axis=-1, keepdims=True)
        png = np.round((n_ + 1) / 2 * 255).astype(np.uint8)
        png[rng.random(size) < 0.1] = 0
        Image.fromarray(_rgb(rng, *size)).save(d / f"{i:06d}_img.png")
        Image.fromarray(png).save(d / f"{i:06d}_normal.png")
        out.append(png)
    return out


def write_reasonseg(
    root: Path, n: int = 2, size: tuple[int, int] = (30, 40), seed: int = 0
) -> list[dict[str, Any]]:
    """``val/<name>.jpg`` + ``val/<name>.json`` with a target rectangle, an ignore rectangle inside a
    bigger target, and a ``flag`` polygon. Returns the JSON documents."""
    rng = np.random.default_rng(seed)
    d = root / "val"
    d.mkdir(parents=True, exist_ok=True)
    docs = []
    for i in range(n):
        name = f"img_{i:04d}"
        Image.fromarray(_rgb(rng, *size)).save(d / f"{name}.jpg", quality=95)
        doc = {
            "text": [f"what could hold water in picture {i}?", "a second phrasing"],
            "is_sentence": True,
            "shapes": [
                {
                    "label": "ignore",
                    "points": [[12, 12], [16, 12], [16, 16], [12, 16]],
                    "shape_type": "polygon",
                },
                {
                    "label": "target",
                    "points": [[10, 10], [30, 10], [30, 25], [10, 25]],
                    "shape_type": "polygon",
                },
                {"label": "flag", "points": [[0, 0], [5, 0], [5, 5]], "shape_type": "polygon"},
            ],
        }
        (d / f"{name}.json").write_text(json.dumps(doc))
        docs.append(doc)
    return docs


def fixture_writers() -> dict[str, Any]:
    """benchmark name -> writer(root, ...) (root = the benchmark's folder under --data-root)."""
    return {
        "cityscapes": write_cityscapes,
        "nyuv2": write_nyuv2,
        "refcocog": write_refcocog,
        "kitti": write_kitti,
        "diode-indoor": write_diode,
        "eth3d": write_eth3d,
        "ibims1": write_ibims1,
        "dsine-nyuv2": write_dsine,
        "reasonseg": write_reasonseg,
    }


def write_nyu_official(
    root: Path, n: int = 3, test: tuple[int, ...] = (1, 3), seed: int = 0
) -> dict[str, Any]:
    """``nyu_depth_v2_labeled.mat`` (HDF5, MATLAB v7.3 layout: images (N, 3, W, H), depths and
    rawDepths (N, W, H), scenes as references to char arrays) and ``splits.mat`` (testNdxs,
    1-based). Needs h5py. Returns ``{"rgb", "depths", "raw", "scenes"}`` in (H, W) order."""
    import h5py

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rgb = rng.integers(0, 256, (n, 480, 640, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.5, (n, 480, 640)).astype(np.float32)
    raw = np.where(rng.random((n, 480, 640)) < 0.1, 0.0, depths).astype(np.float32)
    scenes = [f"kitchen_{i:04d}" for i in range(n)]
    with h5py.File(root / "nyu_depth_v2_labeled.mat", "w") as f:
        f["images"] = rgb.transpose(0, 3, 2, 1)
        f["depths"] = depths.transpose(0, 2, 1)
        f["rawDepths"] = raw.transpose(0, 2, 1)
        refs = f.create_dataset("scenes", (1, n), dtype=h5py.ref_dtype)
        grp = f.create_group("#refs#")
        for i, s in enumerate(scenes):
            ds = grp.create_dataset(f"s{i}", data=np.array([[ord(c)] for c in s], dtype=np.uint16))
            refs[0, i] = ds.ref
    savemat(root / "splits.mat", {"testNdxs": np.array(test, dtype=np.float64)[:, None]})
    return {"rgb": rgb, "depths": depths, "raw": raw, "scenes": scenes}
