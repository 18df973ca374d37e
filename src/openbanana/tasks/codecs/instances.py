"""Instance segmentation: instance ids <-> distinct colours, and the paper's five-stage decoder.

Encoding: the paper lets the model pick any distinct colour per instance; which colour each
instance gets is a scheme of :data:`INSTANCE_SCHEMES`. Background (id 0) is painted ``background``.

- ``rank``: the instances in increasing id order get the colours of :func:`instance_colors`
  (farthest-point sampling over a 16-level RGB grid, starting from the background colour, so every
  colour is as far as possible from the background and from the colours before it; ``seed``
  breaks ties);
- ``position``: an instance's colour says where it lies (:func:`position_colors`): the image is cut
  into a ``4 x 4`` grid and the cell holding an instance's centroid gives the colour, so a pixel
  can tell its colour from its own object, without counting the objects to its left.

Decoding (:func:`decode_instances`, parameters in :class:`InstanceDecoderParams`), after the
Vision Banana appendix:

1. background: pixels within ``bg_tol`` (RGB distance, default 14) of the background colour;
2. seeded flood fill: pixels are visited in raster order; each unvisited pixel seeds a
   component of the 4-connected (``connectivity=8``: 8-connected) unvisited pixels whose colour
   is within ``fill_tol`` (14) of the seed colour. With ``refine_seed`` (default) the seed
   colour is the mean of the seed's 3x3 neighbours within ``fill_tol`` of it, which makes the
   fill robust to per-pixel generator noise;
3. components smaller than ``min_area_frac`` (0.02%) of the image are dropped;
4. halos: components whose 3x3 erosion keeps less than ``halo_keep_frac`` (10%) of their pixels
   are dropped (the image border does not erode);
5. merge: components whose mean colours are within ``merge_tol`` (14) and whose union bounding
   box area is at most ``merge_factor`` (5) times their summed area are merged (repeated,
   closest colours first, until nothing merges).

Dropped pixels become background. Output ids are 1..M in raster order of first appearance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from openbanana.tasks.codecs._array import (
    Array,
    as_color,
    check_map,
    check_rgb,
    first_location,
    like,
    to_numpy,
)

# scipy.ndimage (about 0.4 s to import) is imported inside the functions that label components: the
# codecs load with `openbanana --help`.

GRID_LEVELS = 16
MAX_INSTANCES = GRID_LEVELS**3 - 1


def instance_colors(n: int, background: tuple[int, int, int] = (0, 0, 0), seed: int = 0) -> np.ndarray:
    """``n`` well separated colours, far from each other and from ``background``.

    Greedy farthest-point sampling over the 16**3 RGB grid (levels 0, 17, ..., 255); the first
    colour is the grid colour farthest from the background. Deterministic for a given seed.

    Args:
        n: number of instances, 0..4095.
        background: background colour.
        seed: tie-breaking seed (different seeds give different, equally separated colours).
    Returns:
        uint8 (n, 3).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    if n > MAX_INSTANCES:
        raise ValueError(f"n: expected at most {MAX_INSTANCES} instances, got {n}")
    bg = as_color(background, "background").astype(np.int64)
    lv = np.rint(np.linspace(0, 255, GRID_LEVELS)).astype(np.int64)
    grid = np.stack(np.meshgrid(lv, lv, lv, indexing="ij"), -1).reshape(-1, 3)
    grid = grid[np.random.default_rng(seed).permutation(grid.shape[0])]
    mind = ((grid - bg) ** 2).sum(1)
    out = np.empty((n, 3), np.uint8)
    for i in range(n):
        j = int(np.argmax(mind))
        out[i] = grid[j]
        np.minimum(mind, ((grid - grid[j]) ** 2).sum(1), out=mind)
    return out


#: ``position`` scheme: the image is cut into this many columns and rows of cells
POSITION_GRID = 4
#: ``position`` scheme: a cell's colour closer than this (RGB distance) to the background is
#: replaced by a spare colour
POSITION_MIN_BG_DISTANCE = 100.0


def rank_colors(ids: np.ndarray, instances: np.ndarray, background: tuple[int, int, int], seed: int) -> np.ndarray:
    """``rank`` scheme: the colours of :func:`instance_colors`, in increasing id order. ``ids``
    (H, W) int64, ``instances`` its sorted positive ids. Returns uint8 (len(instances), 3)."""
    return instance_colors(int(instances.size), background=background, seed=seed)


def position_colors(ids: np.ndarray, instances: np.ndarray, background: tuple[int, int, int], seed: int,
                    grid: int = POSITION_GRID) -> np.ndarray:
    """``position`` scheme: each instance the colour of the grid cell holding its centroid.

    Cell ``row * grid + col`` is drawn in colour ``row * grid + col`` of
    ``instance_colors(., background=black, seed)`` (the same colours on every background; one
    closer than :data:`POSITION_MIN_BG_DISTANCE` to ``background`` is replaced by the next spare
    colour far enough from it). Instances are placed largest first; one whose cell is taken gets the
    free cell whose centre is nearest its centroid, and when every cell is taken a spare colour.
    ``ids`` (H, W) int64, ``instances`` its sorted positive ids. Returns uint8 (len(instances), 3).
    """
    n = int(instances.size)
    cells = grid * grid
    if n == 0:
        return np.zeros((0, 3), np.uint8)
    h, w = ids.shape
    palette = instance_colors(min(cells + n + cells, MAX_INSTANCES), seed=seed)
    far = np.sqrt(((palette.astype(np.float64) - np.asarray(background, np.float64)) ** 2).sum(1))
    far = far >= POSITION_MIN_BG_DISTANCE
    spares = [int(j) for j in np.flatnonzero(far[cells:]) + cells]
    cell_color = [j if far[j] else spares.pop(0) for j in range(cells)]
    index = np.searchsorted(instances, ids.ravel())
    inside = (index < n) & (instances[np.minimum(index, n - 1)] == ids.ravel())
    index = index[inside]
    ys, xs = np.divmod(np.flatnonzero(inside), w)
    area = np.bincount(index, minlength=n).astype(np.float64)
    cy = np.bincount(index, weights=ys + 0.5, minlength=n) / area * grid / h  # in cells
    cx = np.bincount(index, weights=xs + 0.5, minlength=n) / area * grid / w
    centres = np.stack(np.meshgrid(np.arange(grid) + 0.5, np.arange(grid) + 0.5, indexing="ij"), -1).reshape(-1, 2)
    free = np.ones(cells, bool)
    out = np.empty((n, 3), np.uint8)
    for i in sorted(range(n), key=lambda i: (-area[i], int(instances[i]))):
        if free.any():
            d = ((centres - (cy[i], cx[i])) ** 2).sum(1)
            d[~free] = np.inf
            cell = int(np.argmin(d))  # its own cell when free: the centroid is nearest its centre
            free[cell] = False
            out[i] = palette[cell_color[cell]]
        else:
            out[i] = palette[spares.pop(0)]
    return out


#: instance colour schemes: ``(ids (H, W), sorted positive ids, background, seed) -> uint8 (n, 3)``
INSTANCE_SCHEMES = {"rank": rank_colors, "position": position_colors}


def encode_instances(ids: Array, background: tuple[int, int, int] = (0, 0, 0), seed: int = 0,
                     scheme: str = "rank") -> Array:
    """Paint an instance id map: 0 = background, each positive id its own colour.

    Args:
        ids: int (H, W) or (B, H, W); 0 background, positive ids (any values) are instances.
        background: background colour.
        seed: colour seed (see :func:`instance_colors`).
        scheme: how each instance's colour is chosen, a key of :data:`INSTANCE_SCHEMES`.
    Returns:
        uint8 RGB, shape ids.shape + (3,), same kind/device.
    """
    check_map(ids, "ids", kind="int")
    if scheme not in INSTANCE_SCHEMES:
        raise ValueError(f"scheme: expected one of {sorted(INSTANCE_SCHEMES)}, got {scheme!r}")
    bg = as_color(background, "background").astype(np.uint8)
    a = to_numpy(ids).astype(np.int64)
    if (a < 0).any():
        loc = first_location(a < 0)
        raise ValueError(f"ids: expected 0 (background) or positive instance ids, got {int(a[loc])} at {loc}")
    single = a.ndim == 2
    batch = a[None] if single else a
    out = np.empty(batch.shape + (3,), np.uint8)
    for b in range(batch.shape[0]):
        uniq, inv = np.unique(batch[b], return_inverse=True)
        pos = uniq[uniq > 0]
        cols = INSTANCE_SCHEMES[scheme](batch[b], pos, tuple(bg.tolist()), seed)
        table = np.concatenate([bg[None], cols]) if uniq[0] == 0 else cols
        out[b] = table[inv.reshape(batch[b].shape)]
    return like(out[0] if single else out, ids)


@dataclass
class InstanceDecoderParams:
    """Parameters of the five-stage instance decoder (defaults from the paper's appendix)."""

    bg_tol: float = 14.0
    fill_tol: float = 14.0
    min_area_frac: float = 0.0002
    halo_keep_frac: float = 0.10
    halo_kernel: int = 3
    merge_tol: float = 14.0
    merge_factor: float = 5.0
    connectivity: int = 4
    refine_seed: bool = True

    def __post_init__(self) -> None:
        for name in ("bg_tol", "fill_tol", "min_area_frac", "halo_keep_frac", "merge_tol", "merge_factor"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise ValueError(f"InstanceDecoderParams.{name}: expected a finite number >= 0, got {v!r}")
        if not isinstance(self.halo_kernel, int) or self.halo_kernel < 1 or self.halo_kernel % 2 == 0:
            raise ValueError(f"InstanceDecoderParams.halo_kernel: expected an odd int >= 1, got {self.halo_kernel!r}")
        if self.connectivity not in (4, 8):
            raise ValueError(f"InstanceDecoderParams.connectivity: expected 4 or 8, got {self.connectivity!r}")

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- stages
def stage_background(img: np.ndarray, background: np.ndarray, tol: float) -> np.ndarray:
    """Stage 1: bool (H, W), True where the pixel is within ``tol`` of the background colour."""
    d = img - background.astype(np.float32)
    return (d * d).sum(-1) <= np.float32(tol) ** 2


def stage_flood_fill(img: np.ndarray, fg: np.ndarray, tol: float, connectivity: int = 4,
                     refine_seed: bool = True) -> np.ndarray:
    """Stage 2: seeded flood fill over the foreground; int32 (H, W) component ids, 0 = none."""
    from scipy import ndimage

    H, W = fg.shape
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    blobs, _ = ndimage.label(fg, structure=structure)
    blob_slices = ndimage.find_objects(blobs)
    labels = np.zeros((H, W), np.int32)
    unvisited = fg.copy()
    flat = unvisited.reshape(-1)
    tol2 = np.float32(tol) ** 2
    cur = 0
    pos = 0
    n = H * W
    while pos < n:
        off = int(np.argmax(flat[pos:]))
        if not flat[pos + off]:
            break
        pos += off
        y, x = divmod(pos, W)
        col = img[y, x]
        if refine_seed:
            ys, xs = slice(max(0, y - 1), y + 2), slice(max(0, x - 1), x + 2)
            nb = img[ys, xs][unvisited[ys, xs]]
            close = ((nb - col) ** 2).sum(-1) <= tol2
            col = nb[close].mean(0)
        bs = blob_slices[blobs[y, x] - 1]
        r = 8
        while True:
            y0, y1 = max(bs[0].start, y - r), min(bs[0].stop, y + r + 1)
            x0, x1 = max(bs[1].start, x - r), min(bs[1].stop, x + r + 1)
            sub = img[y0:y1, x0:x1]
            cand = unvisited[y0:y1, x0:x1] & (((sub - col) ** 2).sum(-1) <= tol2)
            cand[y - y0, x - x0] = True  # the seed always joins its own component
            lab, _ = ndimage.label(cand, structure=structure)
            comp = lab == lab[y - y0, x - x0]
            touches = (
                (y0 > bs[0].start and comp[0].any())
                or (y1 < bs[0].stop and comp[-1].any())
                or (x0 > bs[1].start and comp[:, 0].any())
                or (x1 < bs[1].stop and comp[:, -1].any())
            )
            if not touches:
                break
            r *= 2
        cur += 1
        labels[y0:y1, x0:x1][comp] = cur
        unvisited[y0:y1, x0:x1][comp] = False
    return labels


def stage_prune_small(labels: np.ndarray, min_area: float) -> np.ndarray:
    """Stage 3: drop components with fewer than ``min_area`` pixels (in place; returns labels)."""
    area = np.bincount(labels.reshape(-1))
    small = area < min_area
    small[0] = False
    if small.any():
        labels[small[labels]] = 0
    return labels


def stage_remove_halos(labels: np.ndarray, keep_frac: float, kernel: int = 3) -> np.ndarray:
    """Stage 4: drop components whose ``kernel``x``kernel`` erosion keeps < ``keep_frac`` of them."""
    from scipy import ndimage

    if labels.max() == 0:
        return labels
    lo = ndimage.minimum_filter(labels, size=kernel, mode="nearest")
    hi = ndimage.maximum_filter(labels, size=kernel, mode="nearest")
    kept = (lo == hi) & (labels > 0)
    area = np.bincount(labels.reshape(-1))
    kept_area = np.bincount(labels[kept], minlength=area.size)
    halo = kept_area < keep_frac * area
    halo[0] = False
    if halo.any():
        labels[halo[labels]] = 0
    return labels


def stage_merge(labels: np.ndarray, img: np.ndarray, tol: float, factor: float) -> np.ndarray:
    """Stage 5: merge components with close mean colours and a compact union bounding box."""
    from scipy import ndimage

    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size < 2:
        return labels
    flat = labels.reshape(-1)
    area = np.bincount(flat).astype(np.float64)
    sums = np.stack([np.bincount(flat, weights=img[..., c].reshape(-1), minlength=area.size) for c in range(3)], 1)
    slices = ndimage.find_objects(labels)
    groups = {int(i): {"members": [int(i)], "area": area[i], "sum": sums[i].copy(),
                       "box": [slices[i - 1][0].start, slices[i - 1][0].stop,
                               slices[i - 1][1].start, slices[i - 1][1].stop]} for i in ids}
    tol2 = float(tol) ** 2
    changed = True
    while changed and len(groups) > 1:
        changed = False
        keys = sorted(groups)
        means = np.array([groups[k]["sum"] / groups[k]["area"] for k in keys])
        d2 = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
        iu, ju = np.triu_indices(len(keys), 1)
        close = d2[iu, ju] <= tol2
        for a, b in sorted(zip(iu[close], ju[close]), key=lambda p: d2[p[0], p[1]]):
            ga, gb = groups[keys[a]], groups[keys[b]]
            box = [min(ga["box"][0], gb["box"][0]), max(ga["box"][1], gb["box"][1]),
                   min(ga["box"][2], gb["box"][2]), max(ga["box"][3], gb["box"][3])]
            if (box[1] - box[0]) * (box[3] - box[2]) <= factor * (ga["area"] + gb["area"]):
                ga["members"] += gb["members"]
                ga["area"] += gb["area"]
                ga["sum"] += gb["sum"]
                ga["box"] = box
                del groups[keys[b]]
                changed = True
                break  # recompute means with the merged group
    remap = np.arange(area.size, dtype=np.int32)
    for k, g in groups.items():
        remap[g["members"]] = k
    return remap[labels]


def _relabel(labels: np.ndarray) -> np.ndarray:
    flat = labels.reshape(-1)
    uniq, first = np.unique(flat, return_index=True)
    order = [u for _, u in sorted(zip(first, uniq)) if u > 0]
    remap = np.zeros(int(uniq.max()) + 1, np.int32)
    remap[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return remap[labels]


def decode_instances_np(rgb: np.ndarray, background: np.ndarray, params: InstanceDecoderParams) -> np.ndarray:
    """The five stages on one uint8 (H, W, 3) image -> int32 (H, W) ids."""
    img = rgb.astype(np.float32)
    H, W = rgb.shape[:2]
    bg = stage_background(img, background, params.bg_tol)
    labels = stage_flood_fill(img, ~bg, params.fill_tol, params.connectivity, params.refine_seed)
    labels = stage_prune_small(labels, params.min_area_frac * H * W)
    labels = stage_remove_halos(labels, params.halo_keep_frac, params.halo_kernel)
    labels = stage_merge(labels, img, params.merge_tol, params.merge_factor)
    return _relabel(labels)


def decode_instances(
    rgb: Array,
    background: tuple[int, int, int] = (0, 0, 0),
    params: InstanceDecoderParams | None = None,
) -> Array:
    """Decode an instance rendering into an id map with the paper's five-stage decoder.

    Args:
        rgb: uint8 RGB (H, W, 3) or (B, H, W, 3), numpy or torch (computed on the CPU).
        background: the background colour named in the instruction.
        params: decoder parameters (:class:`InstanceDecoderParams`; defaults from the paper).
    Returns:
        int32 ids (H, W) / (B, H, W), 0 = background, 1..M instances, same kind/device.
    """
    check_rgb(rgb)
    params = InstanceDecoderParams() if params is None else params
    if not isinstance(params, InstanceDecoderParams):
        raise TypeError(f"params: expected InstanceDecoderParams, got {type(params).__name__}")
    bg = as_color(background, "background")
    x = to_numpy(rgb)
    if x.ndim == 3:
        out = decode_instances_np(x, bg, params)
    else:  # a batch (an empty one gives an empty batch of id maps, as the other decoders do)
        out = np.zeros(x.shape[:-1], np.int32)
        for b, im in enumerate(x):
            out[b] = decode_instances_np(im, bg, params)
    return like(out, rgb)


__all__ = [
    "INSTANCE_SCHEMES",
    "POSITION_GRID",
    "InstanceDecoderParams",
    "decode_instances",
    "encode_instances",
    "instance_colors",
    "position_colors",
    "rank_colors",
]
