"""RefCOCOg (UMD partition), val split: one referring target per sentence.

Official layout (the ``refer`` toolkit's ``data`` folder and COCO train2014)::

    <root>/refcocog/refs(umd).p         the refs, a Python pickle (converted ONCE, see below)
    <root>/refcocog/instances.json      COCO-format images / annotations / categories
    <root>/images/train2014/COCO_train2014_<12 digits>.jpg
        (``<root>/images/mscoco/images/train2014/`` and ``<root>/train2014/`` are accepted too)

The refs pickle is never unpickled at evaluation time: convert it once with::

    openbanana convert-refs <root>/refcocog/"refs(umd).p" <root>/refcocog/refs_umd.json

which reads it with an unpickler that refuses every class or function (only plain lists, dicts,
strings and numbers load) and writes JSON. At run time only ``refs_umd.json`` and
``instances.json`` are read; masks come from the COCO polygons / RLE via ``pycocotools``.
Every sentence of every val ref is one sample (cIoU sums over sentences).
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

from openbanana.data.sources.base import (
    SOURCES,
    DataSource,
    Record,
    Target,
    read_json,
    read_rgb,
    require_file,
)
from openbanana.errors import DataLayoutError

#: the colour the referred object is drawn in (on black), as in the paper's prompts
TARGET_COLOR = (255, 0, 0)
REF_KEYS = ("ref_id", "ann_id", "image_id", "split", "sentences")
IMAGE_DIRS = ("images/train2014", "images/mscoco/images/train2014", "train2014")


class _PlainUnpickler(pickle.Unpickler):
    """Loads only built-in containers and scalars; any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise DataLayoutError(
            f"refs pickle: expected only plain lists/dicts/strings, found a reference to {module}.{name}"
        )


def _text(x: Any) -> Any:
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="replace")
    if isinstance(x, dict):
        return {_text(k): _text(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_text(v) for v in x]
    return x


def convert_refs(pickle_path: Path | str, json_path: Path | str) -> int:
    """Convert the refer toolkit's ``refs(umd).p`` to JSON once; returns the number of refs.

    Only the fields the harness uses are kept: ref_id, ann_id, image_id, split, category_id and
    sentences (sent_id, sent).
    """
    pickle_path, json_path = Path(pickle_path), Path(json_path)
    require_file(pickle_path, "refs pickle from the refer toolkit")
    try:
        refs = _PlainUnpickler(io.BytesIO(pickle_path.read_bytes()), encoding="latin1").load()
    except DataLayoutError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataLayoutError(f"{pickle_path}: expected the refer toolkit's refs pickle, got {exc}") from None
    refs = _text(refs)
    if not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs):
        raise DataLayoutError(f"{pickle_path}: expected a list of ref dicts, got {type(refs).__name__}")
    out = []
    for n, r in enumerate(refs):
        missing = [k for k in REF_KEYS if k not in r]
        if missing:
            raise DataLayoutError(f"{pickle_path}: ref #{n} lacks {missing}; expected keys {list(REF_KEYS)}")
        out.append(
            {
                "ref_id": int(r["ref_id"]),
                "ann_id": int(r["ann_id"]),
                "image_id": int(r["image_id"]),
                "split": str(r["split"]),
                "category_id": int(r.get("category_id", -1)),
                "sentences": [{"sent_id": int(s["sent_id"]), "sent": str(s["sent"])} for s in r["sentences"]],
            }
        )
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(out), encoding="utf-8")
    return len(out)


class RefCOCOgSource(DataSource):
    """RefCOCOg UMD ``split`` (default val): records = images, targets = sentences."""

    layout = "<root>/refcocog/refs_umd.json (from convert-refs) + instances.json + <root>/images/train2014/"

    def __init__(self, root: Path, split: str = "val", refs_json: str = "refcocog/refs_umd.json"):
        try:
            from pycocotools.coco import COCO
        except ImportError:
            raise ImportError("RefCOCOg masks need pycocotools: pip install 'openbanana[eval]'") from None
        self.root = Path(root)
        refs_path = self.root / refs_json
        if not refs_path.is_file():
            pick = self.root / "refcocog" / "refs(umd).p"
            hint = (
                f"; convert once with: openbanana convert-refs '{pick}' '{refs_path}'"
                if pick.is_file()
                else ""
            )
            raise DataLayoutError(
                f"{refs_path}: expected the refs converted to JSON, but it does not exist{hint}"
            )
        refs = read_json(refs_path, "RefCOCOg refs JSON")
        if not isinstance(refs, list):
            raise DataLayoutError(f"{refs_path}: expected a JSON list of refs, got {type(refs).__name__}")
        self.refs = [r for r in refs if r.get("split") == split]
        if not self.refs:
            raise DataLayoutError(f"{refs_path}: expected refs with split {split!r}, found none")
        inst = require_file(self.root / "refcocog" / "instances.json", "COCO instances of RefCOCOg")
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            try:
                self.coco = COCO(str(inst))
            except Exception as exc:  # noqa: BLE001
                raise DataLayoutError(f"{inst}: expected COCO-format instances JSON, got {exc}") from None
        self.image_dir = next((self.root / d for d in IMAGE_DIRS if (self.root / d).is_dir()), None)
        if self.image_dir is None:
            raise DataLayoutError(
                f"{self.root}: expected COCO train2014 images in one of {list(IMAGE_DIRS)}, found none"
            )
        by_image: dict[int, list[dict[str, Any]]] = {}
        for r in self.refs:
            by_image.setdefault(int(r["image_id"]), []).append(r)
        self.image_ids = sorted(by_image)
        self.by_image = by_image

    def __len__(self) -> int:
        return len(self.image_ids)

    def record_id(self, index: int) -> str:
        return f"coco{self.image_ids[index]}"

    def __getitem__(self, index: int) -> Record:
        image_id = self.image_ids[index]
        info = self.coco.imgs.get(image_id)
        if info is None:
            raise DataLayoutError(
                f"instances.json: expected image {image_id} (used by a ref), found no entry"
            )
        path = self.image_dir / info["file_name"]
        if not path.is_file():  # some releases name files with a suffix; fall back to COCO's own name
            alt = self.image_dir / f"COCO_train2014_{image_id:012d}.jpg"
            path = alt if alt.is_file() else path
        image = read_rgb(path, "COCO train2014 image")
        if image.shape[:2] != (info["height"], info["width"]):
            raise DataLayoutError(
                f"{path}: expected {info['height']} x {info['width']} as instances.json says, got {image.shape[:2]}"
            )
        targets = []
        for ref in sorted(self.by_image[image_id], key=lambda r: r["ref_id"]):
            ann = self.coco.anns.get(int(ref["ann_id"]))
            if ann is None:
                raise DataLayoutError(
                    f"instances.json: expected annotation {ref['ann_id']} of ref {ref['ref_id']}, found none"
                )
            mask = self.coco.annToMask(ann).astype(bool)
            if not mask.any():
                raise DataLayoutError(
                    f"instances.json: annotation {ann['id']} (ref {ref['ref_id']}) has an empty mask"
                )
            for s in ref["sentences"]:
                targets.append(
                    Target(
                        task="referring",
                        gt=mask[None],
                        spec={"expressions": [s["sent"]], "colors": [TARGET_COLOR]},
                        key=f"{ref['ref_id']}-{s['sent_id']}",
                        meta={"ann_id": ann["id"]},
                    )
                )
        return Record(id=self.record_id(index), image=image, targets=targets)


SOURCES.register("refcocog", RefCOCOgSource)
