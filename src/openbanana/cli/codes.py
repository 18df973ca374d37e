"""`openbanana codes`: a picture of every colour code, each encoded, decoded and checked.

Writes one PNG per code into ``--out`` plus the combined sheet ``codes.png``, and prints the
decoding error of each (clean, and under sigma-3 Gaussian RGB noise like a generator's).
The sample maps come from a small analytic scene computed here (a floor, a back wall and a
sphere seen by a 60-degree pinhole camera), so the command needs no data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from openbanana.tasks.codecs import (
    COLORMAPS,
    CORNER_DEPTHS_M,
    PATH_CORNERS,
    PATH_RGB,
    decode_depth,
    decode_depth_colormap,
    decode_instances,
    decode_labels,
    decode_masks,
    decode_normals,
    encode_depth_colormap,
    encode_instances,
    encode_labels,
    encode_masks,
    encode_normals,
)


def scene(size: int = 256) -> dict:
    """Analytic scene: depth (m, z-distance), normals (paper frame), labels and instance ids.

    Camera at the origin, 60-degree horizontal field of view, looking forward; floor 1.5 m
    below the camera, a back wall 12 m ahead, a sphere of radius 0.8 m at (0.5, -0.6, 3.0) m and
    a smaller one at (-1.6, -1.0, 6.5) m (x right, y up, forward).
    """
    f = 0.5 * size / np.tan(np.radians(30.0))
    v, u = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    ray = np.stack([(u - size / 2) / f, -(v - size / 2) / f, np.ones_like(u)], -1)  # x, y up, forward
    t = np.full(u.shape, 12.0)  # back wall (forward = 12 m); rays have forward component 1
    normal = np.zeros(u.shape + (3,))
    normal[...] = (0.0, 0.0, 1.0)  # the wall faces the camera (paper frame: +z toward viewer)
    label = np.ones(u.shape, np.int64)  # 0 floor, 1 wall, 2 sphere
    ids = np.zeros(u.shape, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(ray[..., 1] < 0, -1.5 / ray[..., 1], np.inf)
    hit = t_floor < t
    t[hit], label[hit] = t_floor[hit], 0
    normal[hit] = (0.0, 1.0, 0.0)
    for k, (centre, radius) in enumerate((((0.5, -0.6, 3.0), 0.8), ((-1.6, -1.0, 6.5), 0.5)), start=1):
        c = np.array(centre)
        b = (ray * c).sum(-1)
        a = (ray * ray).sum(-1)
        disc = b * b - a * ((c * c).sum() - radius**2)
        with np.errstate(invalid="ignore"):
            ts = (b - np.sqrt(disc)) / a
        hit = (disc > 0) & (ts > 0) & (ts < t)
        t[hit], label[hit], ids[hit] = ts[hit], 2, k
        n = (ray[hit] * ts[hit][:, None] - c) / radius
        normal[hit] = n * np.array([1.0, 1.0, -1.0])  # forward -> paper +z toward the viewer
    # floor tiles as extra instances
    p = ray * t[..., None]
    tiles = (label == 0) & ((np.floor(p[..., 0] / 1.5) + np.floor(p[..., 2] / 1.5)) % 2 == 0) & (t < 9)
    ids[tiles] = 10 + (np.floor(p[..., 0] / 1.5) * 7 + np.floor(p[..., 2] / 1.5))[tiles].astype(np.int64) % 50
    return {"depth_m": t.astype(np.float32), "normals": normal.astype(np.float32), "labels": label, "ids": ids}


def _noisy(rgb, rng, sigma: float = 3.0):
    return np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).round().astype(np.uint8)


def build_pictures(size: int = 256, seed: int = 0) -> list[dict]:
    """Encode and decode every colour code; one dict per picture (title, image, error lines)."""
    rng = np.random.default_rng(seed)
    sc = scene(size)
    depth = sc["depth_m"]
    out: list[dict] = []

    bar = np.repeat(PATH_RGB[None], 60, axis=0)
    ticks = [(255 * k, f"{d:.2f} m" if np.isfinite(d) else "inf") for k, d in enumerate(CORNER_DEPTHS_M)]
    back = decode_depth(PATH_CORNERS[None])[0]
    err = max(abs(back[k] - CORNER_DEPTHS_M[k]) for k in range(7))
    out.append({"name": "depth_path", "title": "depth path: black-red-yellow-green-cyan-blue-magenta-white",
                "image": bar, "ticks": ticks,
                "errors": [f"corners decode to within {err * 1000:.3f} mm of the paper's corner depths"]})

    for name in ("paper", "plasma", "inferno", "viridis", "grayscale"):
        cmap = COLORMAPS.get(name)
        rgb = encode_depth_colormap(depth, name)
        dec = decode_depth_colormap(rgb, name)
        lo = cmap.depth_min_m
        valid = depth >= max(lo, 0.1)
        rel = np.abs(dec[valid] / depth[valid] - 1)
        rel_n = np.abs(decode_depth_colormap(_noisy(rgb, rng), name)[valid] / depth[valid] - 1)
        rng_txt = f"{lo:g}-{cmap.depth_max_m:g} m, {cmap.scale}"
        out.append({"name": f"depth_{name}", "title": f"depth, {name} ({rng_txt})", "image": rgb,
                    "errors": [(f"relative error max {rel.max():.2%}, median {np.median(rel):.3%}; "
                               f"sigma-3 noise median {np.median(rel_n):.2%}")]})

    n = sc["normals"]
    rgb = encode_normals(n)
    dec, ok = decode_normals(rgb)
    ang = np.degrees(np.arccos(np.clip((dec * n).sum(-1), -1, 1)))
    dec_n, _ = decode_normals(_noisy(rgb, rng))
    ang_n = np.degrees(np.arccos(np.clip((dec_n * n).sum(-1), -1, 1)))
    out.append({"name": "normals_scene", "title": "normals of the scene (paper frame, x flipped)", "image": rgb,
                "errors": [f"angular error mean {ang.mean():.3f} deg, sigma-3 noise mean {ang_n.mean():.2f} deg"]})
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size * 2 - 1
    inside = xx**2 + yy**2 < 1
    sphere = np.stack([xx, -yy, np.sqrt(np.clip(1 - xx**2 - yy**2, 0, 1))], -1)
    rgb = encode_normals(sphere, inside)
    dec, ok = decode_normals(rgb)
    ang = np.degrees(np.arccos(np.clip((dec[inside] * sphere[inside]).sum(-1), -1, 1)))
    out.append({"name": "normals_sphere", "title": "normals sphere (left pink, up green, facing blue)",
                "image": rgb, "errors": [(f"angular error mean {ang.mean():.3f} deg, "
                                         f"invalid outside decoded invalid: {bool((~ok[~inside]).all())}")]})

    palette = np.array([[128, 64, 128], [70, 70, 70], [220, 20, 60]])
    labels = sc["labels"].copy()
    labels[: size // 16] = 255  # a void band
    rgb = encode_labels(labels, palette)
    acc = (decode_labels(rgb, palette) == labels).mean()
    acc_n = (decode_labels(_noisy(rgb, rng), palette) == labels).mean()
    out.append({"name": "semantic", "title": "semantic palette: floor, wall, sphere; black = void", "image": rgb,
                "errors": [f"pixel accuracy {acc:.2%}, sigma-3 noise {acc_n:.2%}"]})

    ids = sc["ids"]
    rgb = encode_instances(ids)
    dec = decode_instances(rgb)
    dec_n = decode_instances(_noisy(rgb, rng))

    def agree(d):
        return sum(np.bincount(d[ids == i]).max() for i in np.unique(ids)) / ids.size

    n_gt = len(np.unique(ids)) - 1
    out.append({"name": "instances", "title": f"instances: {n_gt} on black", "image": rgb,
                "errors": [(f"clean: {len(np.unique(dec)) - 1}/{n_gt} instances, {agree(dec):.3%} pixels agree; "
                           f"sigma-3 noise: {len(np.unique(dec_n)) - 1}/{n_gt}, {agree(dec_n):.3%}"),
                           "(slivers under the 0.02% area / 10% halo limits are dropped by design)"]})

    masks = np.stack([ids == 1, sc["labels"] == 0])
    colors = np.array([[255, 215, 0], [0, 160, 255]])
    rgb = encode_masks(masks, colors)
    dec = decode_masks(rgb, colors)
    dec_n = decode_masks(_noisy(rgb, rng), colors)
    visible = np.stack([masks[0] & ~masks[1], masks[1]])
    iou = [(d & v).sum() / max(1, (d | v).sum()) for d, v in zip(dec_n, visible)]
    out.append({"name": "referring", "title": "referring: 'the big ball' gold, 'the floor' blue", "image": rgb,
                "errors": [f"exact: {bool((dec == visible).all())}; sigma-3 noise IoU "
                           + ", ".join(f"{v:.4f}" for v in iou)]})
    return out


def write_pictures(pictures: list[dict], out_dir: Path) -> list[Path]:
    """One PNG per picture plus the combined sheet ``codes.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    def draw(ax, pic):
        ax.imshow(pic["image"], interpolation="nearest", aspect="auto" if "ticks" in pic else "equal")
        ax.set_title(pic["title"], fontsize=8)
        ax.set_yticks([])
        if "ticks" in pic:
            ax.set_xticks([p for p, _ in pic["ticks"]], [s for _, s in pic["ticks"]], fontsize=7)
        else:
            ax.set_xticks([])
        ax.set_xlabel("\n".join(pic["errors"]), fontsize=7)

    for pic in pictures:
        fig, ax = plt.subplots(figsize=(8, 2.2) if "ticks" in pic else (4.5, 4.9))
        draw(ax, pic)
        fig.tight_layout()
        path = out_dir / f"{pic['name']}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    cols = 4
    rows = -(-len(pictures) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.9 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, pic in zip(axes.ravel(), pictures):
        ax.axis("on")
        draw(ax, pic)
    fig.tight_layout()
    sheet = out_dir / "codes.png"
    fig.savefig(sheet, dpi=90)
    plt.close(fig)
    paths.append(sheet)
    return paths


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

    @app.command("codes")
    def codes(
        out: Annotated[Path, typer.Option("--out", "-o", help="folder for the PNG pictures")] = Path("codes"),
        size: Annotated[int, typer.Option("--size", min=32, max=2048, help="side of the sample maps (px)")] = 256,
        seed: Annotated[int, typer.Option("--seed", help="seed of the added sigma-3 noise")] = 0,
    ) -> None:
        """Draw every task colour code (encode -> decode, with its error) as PNG pictures."""
        pictures = build_pictures(size=size, seed=seed)
        paths = write_pictures(pictures, out)
        for pic in pictures:
            typer.echo(f"{pic['name']:16s} {'; '.join(pic['errors'])}")
        typer.echo(f"wrote {len(paths)} pictures to {out}/ (sheet: {out / 'codes.png'})")
