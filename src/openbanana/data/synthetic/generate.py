"""From a seed to a finished Scene: sample the world, render it, measure objects, add language."""

from __future__ import annotations

import numpy as np
from numba import njit

from openbanana.data.synthetic.language import caption, reasoning_queries, referring_expressions
from openbanana.data.synthetic.render import render_spec
from openbanana.data.synthetic.scene import Scene, WorldSpec
from openbanana.data.synthetic.splits import scene_rng
from openbanana.data.synthetic.world import sample_world


def parse_size(size) -> tuple[int, int]:
    """(H, W) from an int or a pair; raises TypeError/ValueError on anything else."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        H = W = int(size)
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, (int, np.integer)) for s in size):
        H, W = int(size[0]), int(size[1])
    else:
        raise TypeError(f"size must be an int or an (H, W) pair of ints, got {size!r}")
    if not (8 <= H <= 4096 and 8 <= W <= 4096):
        raise ValueError(f"size must be between 8 and 4096 pixels per side, got {(H, W)}")
    return H, W


@njit(cache=True, nogil=True)
def object_stats(inst, depth, W, n):
    """Per instance id < n: pixel count, bbox (x0, y0, x1, y1), centroid sums and median depth.

    One counting sort of the pixels by instance, then an exact median of each segment."""
    counts = np.zeros(n, np.int64)
    box = np.empty((n, 4), np.int64)
    box[:, 0] = box[:, 1] = 1 << 30
    box[:, 2] = box[:, 3] = -1
    sums = np.zeros((n, 2))
    for i in range(inst.shape[0]):
        k = inst[i]
        y, x = divmod(i, W)
        counts[k] += 1
        box[k, 0], box[k, 1] = min(box[k, 0], x), min(box[k, 1], y)
        box[k, 2], box[k, 3] = max(box[k, 2], x), max(box[k, 3], y)
        sums[k, 0] += x
        sums[k, 1] += y
    starts = np.zeros(n + 1, np.int64)
    for k in range(n):
        starts[k + 1] = starts[k] + counts[k]
    fill = starts[:n].copy()
    sd = np.empty(inst.shape[0], np.float64)
    for i in range(inst.shape[0]):
        k = inst[i]
        sd[fill[k]] = depth[i]
        fill[k] += 1
    med = np.full(n, np.inf)
    for k in range(1, n):
        if counts[k]:
            med[k] = np.median(sd[starts[k] : starts[k + 1]])
    return counts, box, sums, med


def measure_objects(scene: Scene) -> None:
    """Fill visible_px, bbox_px, centroid_px, depth_m and camera-frame position_m of every object."""
    spec = scene.spec
    w2c = spec.camera.world_to_cam()
    c = np.asarray(spec.camera.position_m)
    W = scene.size[1]
    inst = scene.instance.reshape(-1).astype(np.int64)
    n = max(len(scene.objects) + 1, int(inst.max(initial=0)) + 1)
    counts, box, sums, med = object_stats(inst, scene.depth_m.reshape(-1).astype(np.float64), W, n)
    pos = (np.array([o.position_world_m for o in scene.objects], np.float64).reshape(-1, 3) - c) @ w2c.T
    for o, p in zip(scene.objects, pos):
        o.position_m = (float(p[0]), float(p[1]), float(p[2]))
        k = o.instance_id
        o.visible_px = int(counts[k]) if k < n else 0
        if o.visible_px:
            o.bbox_px = (int(box[k, 0]), int(box[k, 1]), int(box[k, 2]), int(box[k, 3]))
            o.centroid_px = (float(sums[k, 0] / counts[k]) + 0.5, float(sums[k, 1] / counts[k]) + 0.5)
            o.depth_m = float(med[k])
        else:
            o.bbox_px, o.centroid_px, o.depth_m = (0, 0, 0, 0), (0.0, 0.0), float("inf")


def scene_from_spec(spec: WorldSpec, size, *, language: bool = True, aux: bool = True,
                    **render_kw) -> tuple[Scene, dict]:
    """Render ``spec`` and finish its Scene; also the render's dict, with the per-sample facts edit
    masks need when ``aux`` (``render_spec(return_aux=True)``; about 0.6 ms of a 128 px scene)."""
    H, W = parse_size(size)
    out = render_spec(spec, H, W, return_aux=aux, **render_kw)
    scene = Scene(out["rgb"], out["depth_m"], out["normals"], out["semantic"], out["instance"], spec.objects,
                  spec.camera, spec.kind, spec.split, spec.seed, spec.room_type, spec=spec)
    finish_scene(scene, language)
    return scene, out


def finish_scene(scene: Scene, language: bool = True) -> None:
    measure_objects(scene)
    if language:
        rng = np.random.default_rng([scene.seed, 0x1A6, scene_rng(scene.seed, scene.split).integers(1 << 30)])
        scene.caption = caption(scene, rng)
        scene.referring = referring_expressions(scene, rng)
        scene.reasoning = reasoning_queries(scene)


def render_scene(seed: int, *, split: str = "train", size=128, device: str = "cpu", language: bool = True) -> Scene:
    """Render scene ``seed`` of ``split`` with exact ground truth and language.

    Args:
        seed: non-negative int; the same (seed, split, size) always gives the same bytes.
        split: "train", "val" or "shift" (held-out shapes, textures, lighting and room types).
        size: int or (H, W) in pixels.
        device: "cpu" (Embree) or a torch device such as "cuda" (batched torch renderer; see
            render_batch for throughput).
        language: also build caption, referring expressions and reasoning queries.
    Returns:
        Scene (see openbanana.data.synthetic.scene.Scene for shapes, units and frames).
    """
    if device != "cpu":
        from openbanana.data.synthetic.gpu import render_batch

        return render_batch([seed], split=split, size=size, device=device, language=language)[0]
    spec = sample_world(seed, split)
    return scene_from_spec(spec, size, language=language, aux=False)[0]
