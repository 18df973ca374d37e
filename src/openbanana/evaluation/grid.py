"""The picture grid: one row per sample, columns input | prediction (generated RGB) | ground truth
(drawn in the same colour code), so a reader sees at a glance what the numbers mean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLUMNS = ("input", "prediction", "ground truth")


def _fit(img: np.ndarray | None, h: int, w: int) -> Image.Image:
    cell = Image.new("RGB", (w, h), (40, 40, 40))
    if img is None:
        ImageDraw.Draw(cell).text((6, h // 2 - 6), "n/a", fill=(200, 200, 200))
        return cell
    a = np.asarray(img)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    pic = Image.fromarray(a.astype(np.uint8))
    scale = min(w / pic.width, h / pic.height)
    pic = pic.resize((max(1, round(pic.width * scale)), max(1, round(pic.height * scale))), Image.NEAREST)
    cell.paste(pic, ((w - pic.width) // 2, (h - pic.height) // 2))
    return cell


def make_grid(
    rows: list[tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None]],
    cell_h: int = 160,
    cell_w: int = 200,
) -> np.ndarray:
    """Build the grid picture.

    Args:
        rows: ``(label, input, generated, ground truth)`` per row; images uint8 ``(H, W, 3)`` or None.
        cell_h, cell_w: size of one cell in pixels.

    Returns:
        uint8 ``(header + rows * (cell_h + label), 3 * cell_w, 3)``.
    """
    if not rows:
        raise ValueError("make_grid: expected at least one row, got none")
    head, lab = 18, 14
    out = Image.new("RGB", (3 * cell_w, head + len(rows) * (cell_h + lab)), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    for c, name in enumerate(COLUMNS):
        draw.text((c * cell_w + 6, 3), name, fill=(0, 0, 0))
    for r, (label, *imgs) in enumerate(rows):
        y = head + r * (cell_h + lab)
        draw.text((4, y), label[:60], fill=(0, 0, 0))
        for c, img in enumerate(imgs):
            out.paste(_fit(img, cell_h, cell_w), (c * cell_w, y + lab))
    return np.asarray(out)


def save_grid(rows, path: Path | str, **kw) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(make_grid(rows, **kw)).save(path)
    return path
