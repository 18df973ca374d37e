"""What a benchmark data source yields, and the checked file readers every adapter uses.

A source is a sequence of :class:`Record` (one input image each) holding one or more
:class:`Target` (one question about the image each: a depth map, a referring expression, ...).
Sources are indexable so that a split can be shared out across processes by index.

Every reader here raises :class:`~openbanana.errors.DataLayoutError` naming the file and what was
expected; adapters never skip a bad file silently (the runner counts and reports it).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from openbanana.errors import DataLayoutError
from openbanana.registry import Registry


@dataclass
class Target:
    """One question about an image and its ground truth.

    Attributes:
        task: task registry key (``depth``, ``normals``, ``semantic``, ``instance``, ``referring``).
        gt: the answer: depth in metres float32 ``(H, W)`` (non-finite / <= 0 = no data),
            normals float32 ``(H, W, 3)`` in the paper's frame (zero = no data), labels int
            ``(H, W)`` (255 = void), instance ids int32 ``(H, W)`` (0 = none), or referring masks
            bool ``(N, H, W)``.
        valid: optional bool ``(H, W)`` evaluation mask (crops, sensor masks).
        spec: keyword arguments for the task's instruction and decoder (palette, colors, expressions).
        key: name of this target inside its record (e.g. the sentence id), unique per record.
        group: which scorer of the benchmark scores it (default: the task name; ``"reasoning"``
            targets use the referring task but are scored apart).
        meta: free-form provenance (source files, raw query text).
    """

    task: str
    gt: Any
    valid: np.ndarray | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    group: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def scorer_key(self) -> str:
        return self.group or self.task


@dataclass
class Record:
    """One input image (uint8 ``(H, W, 3)``) and its targets."""

    id: str
    image: np.ndarray
    targets: list[Target]


class DataSource(ABC):
    """An indexable benchmark split. Subclasses check the layout in ``__init__`` (cheaply: files
    listed, counts compared) and read one record per ``__getitem__``."""

    #: human-readable description of the on-disk layout this source reads (for docs and errors)
    layout: str = ""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def record_id(self, index: int) -> str:
        """The id of record ``index`` without reading it (used to report a record that fails)."""

    @abstractmethod
    def __getitem__(self, index: int) -> Record: ...


#: data set name -> DataSource class (one module per real data set under openbanana.data.sources)
SOURCES: Registry[type[DataSource]] = Registry("data source")


# ---------------------------------------------------------------- checked readers


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DataLayoutError(f"{path}: expected a directory ({what}), but it does not exist")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataLayoutError(f"{path}: expected a file ({what}), but it does not exist")
    return path


def _open_image(path: Path, what: str) -> Image.Image:
    require_file(path, what)
    try:
        img = Image.open(path)
        img.load()
    except Exception as exc:  # noqa: BLE001 -- any decoder failure is a layout error here
        raise DataLayoutError(
            f"{path}: expected a readable image ({what}), got {type(exc).__name__}: {exc}"
        ) from None
    return img


def read_rgb(path: Path, what: str = "RGB image") -> np.ndarray:
    """uint8 ``(H, W, 3)``; grey or RGBA files are converted."""
    return np.asarray(_open_image(path, what).convert("RGB"), dtype=np.uint8)


def read_single_channel(path: Path, what: str, dtypes: tuple[str, ...] = ("uint8", "uint16")) -> np.ndarray:
    """A one-channel image as stored (uint8 / uint16 / int32 for 16-bit PNGs), shape ``(H, W)``."""
    img = _open_image(path, what)
    arr = np.asarray(img)
    if arr.ndim != 2:
        raise DataLayoutError(f"{path}: expected a single-channel image ({what}), got shape {arr.shape}")
    if img.mode in ("I", "I;16", "I;16B") and arr.dtype != np.uint16:
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataLayoutError(
                f"{path}: expected 16-bit values ({what}), got range {arr.min()}..{arr.max()}"
            )
        arr = arr.astype(np.uint16)
    if arr.dtype.name not in dtypes:
        raise DataLayoutError(f"{path}: expected {' or '.join(dtypes)} pixels ({what}), got {arr.dtype}")
    return arr


def read_json(path: Path, what: str) -> Any:
    require_file(path, what)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"{path}: expected valid JSON ({what}), got {exc}") from None


def check_same_size(image: np.ndarray, other: np.ndarray, path: Path, what: str) -> None:
    if image.shape[:2] != other.shape[:2]:
        raise DataLayoutError(
            f"{path}: expected {what} of the image's size {image.shape[:2]}, got {other.shape[:2]}"
        )


def read_list_file(path: Path, what: str) -> list[str]:
    """Non-empty, non-comment lines of a text file."""
    require_file(path, what)
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]
