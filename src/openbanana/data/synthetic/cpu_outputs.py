"""Per-pixel maps of the compiled CPU renderer (numba, cached to disk): depth, normals, semantic
and instance labels of the pixel-centre samples in one pass, the values of the array code in
``render.frame_outputs``."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def pixel_maps(t, part, nrm, part_cls, part_inst, sky, depth, normals, semantic, instance):
    """Fill the maps of the first ``len(depth)`` samples (the pixel centres, row-major).

    Args:
        t: (N,) float32 hit distance (inf on a miss). part: (N,) int part index, -1 = miss.
        nrm: (N, 3) float32 shading normals. part_cls, part_inst: (P,) int class and instance id
        per part. sky: class id of a miss.
        depth: (HW,) float32; normals (HW, 3) float32; semantic (HW,) uint8; instance (HW,) int32.
    """
    for i in range(depth.shape[0]):
        p = part[i]
        depth[i] = t[i]
        for a in range(3):
            normals[i, a] = nrm[i, a]
        if p >= 0:
            semantic[i] = part_cls[p]
            instance[i] = part_inst[p]
        else:
            semantic[i] = sky
            instance[i] = 0
