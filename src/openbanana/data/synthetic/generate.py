"""From a seed to a finished Scene: sample the world, render it, measure objects, add language."""

from __future__ import annotations

import numpy as np

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


def measure_objects(scene: Scene) -> None:
    """Fill visible_px, bbox_px, centroid_px, depth_m and camera-frame position_m of every object."""
    spec = scene.spec
    w2c = spec.camera.world_to_cam()
    c = np.asarray(spec.camera.position_m)
    H, W = scene.size
    inst = scene.instance.reshape(-1).astype(np.int64)
    n = max(len(scene.objects) + 1, int(inst.max(initial=0)) + 1)
    counts = np.bincount(inst, minlength=n)
    # one sort by (instance, depth): segments give bounding boxes, centroids and median depths
    depth = scene.depth_m.reshape(-1).astype(np.float64)
    order = np.argsort(inst * 1e6 + np.minimum(depth, 1e5), kind="stable")
    si = inst[order]
    starts = np.searchsorted(si, np.arange(n))
    ys, xs = np.divmod(order, W)
    sd = depth[order]
    nz = np.flatnonzero(counts)
    xmin = np.zeros(n, np.int64)
    xmax, ymin, ymax = xmin.copy(), xmin.copy(), xmin.copy()
    if len(nz):
        st = starts[nz]
        xmin[nz], xmax[nz] = np.minimum.reduceat(xs, st), np.maximum.reduceat(xs, st)
        ymin[nz], ymax[nz] = np.minimum.reduceat(ys, st), np.maximum.reduceat(ys, st)
    cx = np.bincount(inst, weights=np.tile(np.arange(W), H), minlength=n) / np.maximum(counts, 1)
    cy = np.bincount(inst, weights=np.repeat(np.arange(H), W), minlength=n) / np.maximum(counts, 1)
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    med = (sd[np.minimum(lo, len(sd) - 1)] + sd[np.minimum(hi, len(sd) - 1)]) / 2
    pos = (np.array([o.position_world_m for o in scene.objects], np.float64).reshape(-1, 3) - c) @ w2c.T
    for o, p in zip(scene.objects, pos):
        o.position_m = (float(p[0]), float(p[1]), float(p[2]))
        k = o.instance_id
        o.visible_px = int(counts[k]) if k < n else 0
        if o.visible_px:
            o.bbox_px = (int(xmin[k]), int(ymin[k]), int(xmax[k]), int(ymax[k]))
            o.centroid_px = (float(cx[k]) + 0.5, float(cy[k]) + 0.5)
            o.depth_m = float(med[k])
        else:
            o.bbox_px, o.centroid_px, o.depth_m = (0, 0, 0, 0), (0.0, 0.0), float("inf")


def scene_from_spec(spec: WorldSpec, size, *, language: bool = True, **render_kw) -> tuple[Scene, dict]:
    H, W = parse_size(size)
    out = render_spec(spec, H, W, return_aux=True, **render_kw)
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
    return scene_from_spec(spec, size, language=language)[0]
