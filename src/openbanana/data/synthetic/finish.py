"""A rendered Scene finished: every object measured in the image (pixels, box, centroid, depth,
camera-frame position) and the scene's language (caption, referring expressions, reasoning queries).

Shared by the CPU path (``generate.py``) and the batched torch renderer (``gpu.py``), below both.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from numba import njit

from openbanana.data.synthetic.language import caption, reasoning_queries, referring_expressions
from openbanana.data.synthetic.scene import Scene
from openbanana.data.synthetic.splits import first_draw

_INF = float("inf")


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
    """Per instance id 1 .. n-1: pixel count, bbox (x0, y0, x1, y1), centroid sums and median depth
    (id 0, no object, is not measured: count 0, empty box, inf depth).

    Rows are read as runs of one id (the bookkeeping per run, not per pixel; coordinate sums are
    integers, so summing runs is exact); then one counting sort of the object pixels by id and an
    exact median of each segment (filled run by run from the runs recorded in the first pass)."""
    counts = np.zeros(n, np.int64)
    box = np.empty((n, 4), np.int64)
    box[:, 0] = box[:, 1] = 1 << 30
    box[:, 2] = box[:, 3] = -1
    sum_x = np.zeros(n, np.int64)
    sum_y = np.zeros(n, np.int64)
    run_at = np.empty(inst.shape[0], np.int32)  # flat start and end of each run of an object
    run_end = np.empty(inst.shape[0], np.int32)
    runs = 0
    for y in range(inst.shape[0] // W):
        row = y * W
        x0 = 0
        while x0 < W:
            k = inst[row + x0]
            x1 = x0 + 1  # one past the run's end
            while x1 < W and inst[row + x1] == k:
                x1 += 1
            if k != 0:
                m = x1 - x0
                counts[k] += m
                box[k, 0] = min(box[k, 0], x0)
                box[k, 1] = min(box[k, 1], y)
                box[k, 2] = max(box[k, 2], x1 - 1)
                box[k, 3] = y  # rows come in order
                sum_x[k] += (x0 + x1 - 1) * m // 2
                sum_y[k] += y * m
                run_at[runs] = row + x0
                run_end[runs] = row + x1
                runs += 1
            x0 = x1
    sums = np.empty((n, 2))
    sums[:, 0] = sum_x
    sums[:, 1] = sum_y
    starts = np.zeros(n + 1, np.int64)
    for k in range(n):
        starts[k + 1] = starts[k] + counts[k]
    fill = starts[:n].copy()
    sd = np.empty(starts[n], np.float64)
    for r in range(runs):
        k = inst[run_at[r]]
        f = fill[k]
        for i in range(run_at[r], run_end[r]):
            sd[f] = depth[i]
            f += 1
        fill[k] = f
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
    inst = scene.instance.reshape(-1)
    n = max(len(scene.objects) + 1, int(inst.max(initial=0)) + 1)
    stats = object_stats(inst, scene.depth_m.reshape(-1), W, n)
    counts, box, sums, med = (a.tolist() for a in stats)  # Python numbers: cheap per-object reads
    objects = scene.objects
    # fromiter over the flattened coordinates: half the cost of np.array on a list of tuples, same values
    world = np.fromiter(chain.from_iterable(o.position_world_m for o in objects), np.float64, 3 * len(objects))
    pos = (world.reshape(-1, 3) - c) @ w2c.T
    for o, p in zip(objects, pos.tolist()):
        o.position_m = tuple(p)
        k = o.instance_id
        px = o.visible_px = counts[k] if k < n else 0
        if px:
            o.bbox_px = tuple(box[k])
            sx, sy = sums[k]
            o.centroid_px = (sx / px + 0.5, sy / px + 0.5)
            o.depth_m = med[k]
        else:
            o.bbox_px, o.centroid_px, o.depth_m = (0, 0, 0, 0), (0.0, 0.0), _INF


def finish_scene(scene: Scene, language: bool = True) -> None:
    """Measure the objects of a rendered ``scene`` and, with ``language``, add its language (in place)."""
    measure_objects(scene)
    if language:
        # (first_draw & 0xFFFFFFFF) >> 2 is scene_rng(seed, split).integers(1 << 30)
        rng = np.random.default_rng([scene.seed, 0x1A6, (first_draw(scene.seed, scene.split) & 0xFFFFFFFF) >> 2])
        scene.caption = caption(scene, rng)
        scene.referring = referring_expressions(scene, rng)
        scene.reasoning = reasoning_queries(scene)
