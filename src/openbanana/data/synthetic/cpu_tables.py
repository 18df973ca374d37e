"""The per-part table of the compiled CPU renderer (numba, cached to disk): camera-frame part
rotations and the float32 part rows of ``cpu_shade`` in one pass over the parts.

The rotation is summed as ``np.einsum("ij,pjk->pik", w2c, R)`` sums it (into a zeroed output,
in j order, no fused multiply-add), so ``render.part_frames`` and this kernel agree to the bit.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def part_rows(w2c, R, size, trans, mat, lin, cut, rot, pf):
    """Camera-frame rotations and the float part table (layout in ``cpu_shade``).

    Args:
        w2c: (3, 3) world-to-camera rotation. R: (P, 3, 3) world-frame part rotations
            (``frame.part_world_rotations``). size, trans: (P, 3) part size and camera-frame
            translation in metres. mat: (P, 11) material rows (``frame.PartRows.mat``).
        lin: (P, 6) float32 linear colour and colour2. cut: (P,) float32 highlight cut-off.
        rot: (P, 3, 3) float64, receives w2c @ R[p]. pf: (P, 36) float32, receives the part rows.
    """
    for p in range(R.shape[0]):
        for i in range(3):
            for k in range(3):
                acc = 0.0
                for j in range(3):
                    acc += w2c[i, j] * R[p, j, k]
                rot[p, i, k] = acc
                pf[p, 3 * i + k] = acc
                pf[p, 12 + 3 * i + k] = acc / size[p, k]  # inverse transpose of rot @ diag(size)
        for a in range(3):
            pf[p, 9 + a] = trans[p, a]
            pf[p, 21 + a] = size[p, a]
        for a in range(6):
            pf[p, 24 + a] = lin[p, a]
        for a in range(5):  # scale, specular, shininess, emission, salt
            pf[p, 30 + a] = mat[p, 6 + a]
        pf[p, 35] = cut[p]
