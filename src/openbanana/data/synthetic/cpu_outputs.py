"""Per-pixel labels of the compiled CPU renderer (numba, cached to disk): the semantic and
instance maps of the pixel-centre samples in one pass, the values of the array code in
``render.frame_outputs``."""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def pixel_labels(part, part_cls, part_inst, sky, semantic, instance):
    """Fill the labels of the first ``len(semantic)`` samples (the pixel centres, row-major).

    Args:
        part: (N,) int part index per sample, -1 = miss. part_cls, part_inst: (P,) int class and
        instance id per part. sky: class id of a miss.
        semantic: (HW,) uint8; instance: (HW,) int32 (0 on a miss).
    """
    for i in range(semantic.shape[0]):
        p = part[i]
        if p >= 0:
            semantic[i] = part_cls[p]
            instance[i] = part_inst[p]
        else:
            semantic[i] = sky
            instance[i] = 0
