"""Contact sheet of the synthetic world: RGB, depth and normals in the paper's colour codes,
semantic and instance maps, and a referring mask under its expression, per scene."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

import openbanana
from openbanana.data.synthetic import SPLITS, render_scene
from openbanana.data.synthetic.classes import CLASS_COLORS


def _encode(task: str, arr: np.ndarray) -> np.ndarray:
    return np.asarray(openbanana.encode(task, arr), np.uint8)


def instance_colors(inst: np.ndarray) -> np.ndarray:
    ids = inst.astype(np.int64)
    rgb = np.stack([(ids * 97) % 200 + 55, (ids * 57) % 200 + 55, (ids * 31) % 200 + 55], -1).astype(np.uint8)
    rgb[ids == 0] = 0
    return rgb


def scene_row(scene) -> tuple[list[np.ndarray], str]:
    """Tiles (rgb, depth, normals, semantic, instance, referring) and the referring expression."""
    depth = _encode("depth", scene.depth_m)
    normals = _encode("normals", scene.normals)
    normals[~np.isfinite(scene.depth_m)] = 0
    sem = CLASS_COLORS[np.minimum(scene.semantic, len(CLASS_COLORS) - 1)]
    inst = instance_colors(scene.instance)
    ref = (scene.rgb * 0.35).astype(np.uint8)
    expr = ""
    if scene.referring:
        expr, iid = scene.referring[0]
        m = scene.instance == iid
        ref[m] = (0.4 * scene.rgb[m] + 0.6 * np.array([255, 60, 60])).astype(np.uint8)
    return [scene.rgb, depth, normals, sem, inst, ref], expr


def contact_sheet(scenes, tile: int | None = None) -> np.ndarray:
    """A (rows * (tile + text), 6 * tile, 3) uint8 sheet, one row per scene."""
    rows = []
    for sc in scenes:
        tiles, expr = scene_row(sc)
        W = tiles[0].shape[1]
        strip = np.concatenate([t for t in tiles], 1)
        bar = Image.new("RGB", (strip.shape[1], 14), (20, 20, 20))
        d = ImageDraw.Draw(bar)
        d.text((3, 1), f"{sc.split} #{sc.seed} {sc.room_type}  fov {sc.camera.fov_deg:.0f}", fill=(230, 230, 230))
        d.text((5 * W + 3, 1), expr[:40], fill=(255, 140, 140))
        rows.append(np.concatenate([np.asarray(bar), strip], 0))
    return np.concatenate(rows, 0)


def write_preview(path, *, per_split: int = 3, size: int = 128, seeds=None) -> np.ndarray:
    """Render ``per_split`` scenes of each split and save the contact sheet to ``path`` (PNG)."""
    scenes = []
    for split in SPLITS:
        for k in range(per_split):
            seed = (seeds or {}).get(split, list(range(per_split)))[k] if seeds else k
            scenes.append(render_scene(seed, split=split, size=size))
    sheet = contact_sheet(scenes)
    Image.fromarray(sheet).save(path, optimize=True)
    return sheet
