"""Compiled (numba) shading for the CPU renderer: the same formulas as ``render.shade``, ``sky``,
``albedo`` and ``materials.texture_mix``, one loop over samples instead of ~100 array passes.

Pure math on flat tables (no Embree, cached to disk by numba). Table layouts are built by
``render_fast.part_table`` / ``light_table`` / ``env_table``:

* part row (float32, 36): rot 3x3 row-major [0:9], trans [9:12], inverse-transpose of
  rot @ diag(size) [12:21], size [21:24], linear colour [24:27], colour2 [27:30], texture scale
  [30], specular [31], shininess [32], emission [33], noise salt [34], highlight cut-off [35]
  (the n.h below which n.h ** shininess < 1e-5: the specular power is skipped there);
  part row (int64, 4): class id, instance id, texture id, image index.
* light row (float32, 11): is_sun [0], position [1:4], direction [4:7], rgb * intensity [7:10],
  casts shadows [10].
* env (float32, 27): up [0:3], cam-to-world 3x3 [3:12], sky zenith [12:15], horizon [15:18],
  ambient up [18:21], ambient down [21:24], fog distance [24], exposure [25], clouds [26].

The texture hash is evaluated in float32 like the array version (``sin`` of a large argument
amplifies rounding, so float64 would give other noise).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from openbanana.data.synthetic.materials import TEXTURE_ID

_F = np.float32
_C1, _C2, _C3, _C4 = _F(12.9898), _F(78.233), _F(37.719), _F(43758.5453)
_TILE = 128
_CHECKER, _STRIPES, _NOISE, _WOOD = TEXTURE_ID["checker"], TEXTURE_ID["stripes"], TEXTURE_ID["noise"], TEXTURE_ID["wood"]
_TILES, _BRICK, _IMAGE, _FACADE = TEXTURE_ID["tiles"], TEXTURE_ID["brick"], TEXTURE_ID["image"], TEXTURE_ID["facade"]
_GRASS, _DOTS, _MARBLE, _HEX = TEXTURE_ID["grass"], TEXTURE_ID["dots"], TEXTURE_ID["marble"], TEXTURE_ID["hexagons"]


@njit(cache=True, nogil=True)
def _hash2(ix, iy, salt):
    h = np.sin(_F(ix) * _C1 + _F(iy) * _C2 + _F(salt) * _C3) * _C4
    return float(h - np.floor(h))


@njit(cache=True, nogil=True)
def _noise(tile, u, v, salt):
    k = _TILE / 4.0  # the tile side is a power of two: & (side - 1) is a floor modulo
    iu = math.floor((u + salt * 0.37) * k) & (_TILE - 1)
    iv = math.floor((v + salt * 0.61) * k) & (_TILE - 1)
    return float(tile[iv, iu])


@njit(cache=True, nogil=True)
def _fract(x):
    return x - math.floor(x)


@njit(cache=True, nogil=True)
def texture_weight(tid, u, v, fade, salt, tile):
    """colour2 weight in [0, 1] of texture ``tid`` at (u, v) in texture periods (not 'image')."""
    fl = math.floor
    mean = -1.0
    if tid == _CHECKER:
        w = (fl(u) + fl(v)) % 2
        mean = 0.5
    elif tid == _STRIPES:
        w = fl(u) % 2
        mean = 0.5
    elif tid == _NOISE:
        w = _noise(tile, u, v, salt)
    elif tid == _WOOD:
        plank = fl(v)
        grain = math.sin((u * 1.3 + _noise(tile, u * 0.3, v * 3.0, salt) * 3.0) * 9.0) * 0.5 + 0.5
        seam = 1.0 if (v - plank) < 0.04 else 0.0
        w = (0.55 * grain + 0.45 * _hash2(plank, fl(u * 0.25 + plank * 0.37), salt)) * (1 - seam) + seam
    elif tid == _TILES:
        grout = 1.0 if (_fract(u) < 0.05 or _fract(v) < 0.05) else 0.0
        w = grout + (1 - grout) * 0.25 * _hash2(fl(u), fl(v), salt)
    elif tid == _BRICK:
        row = fl(v * 3.0)
        uu = u * 1.5 + (row % 2) * 0.5
        mortar = 1.0 if (_fract(uu) < 0.06 or v * 3.0 - row < 0.1) else 0.0
        w = mortar + (1 - mortar) * 0.35 * _hash2(fl(uu), row, salt)
    elif tid == _GRASS:
        w = _noise(tile, u * 2.0, v * 2.0, salt) * 0.7 + 0.3 * _noise(tile, u * 11.5, v * 11.5, salt + 5)
    elif tid == _FACADE:
        fu, fv = _fract(u), _fract(v)
        win = 1.0 if (0.22 < fu < 0.78 and 0.25 < fv < 0.8) else 0.0
        w = win * (0.75 + 0.25 * _hash2(fl(u), fl(v), salt))
        mean = 0.3
    elif tid == _DOTS:
        fu, fv = _fract(u) - 0.5, _fract(v) - 0.5
        w = 1.0 if fu * fu + fv * fv < 0.09 else 0.0
        mean = 0.28
    elif tid == _MARBLE:
        w = math.sin(u * 3.0 + _noise(tile, u * 0.5, v * 0.5, salt) * 8.0) * 0.5 + 0.5
        w = w * w * w
    elif tid == _HEX:
        q = u * 1.1547
        r = v - u * 0.57735
        dq, dr = q - fl(q + 0.5), r - fl(r + 0.5)
        w = 1.0 if abs(dq) + abs(dr) + abs(dq + dr) > 0.8 else 0.0
        mean = 0.3
    else:
        w = 0.0
    if mean >= 0:
        w = w * (1 - fade) + mean * fade
    return w


@njit(cache=True, nogil=True)
def surface(dirs, t, part, face, u, v, corner_normals, face_normals, pf, pos, nrm, geo):
    """Camera-frame hit point, shading normal and geometric normal of every hit (part >= 0),
    both normals flipped toward the viewer; zeros on a miss (the outputs may come uninitialised)."""
    last_p = last_f = -1  # (part, face) of the previous hit: consecutive samples mostly share it,
    h0 = h1 = h2 = np.float32(0.0)  # and with it the geometric normal h (before the flip)
    for i in range(dirs.shape[0]):
        p = part[i]
        if p < 0:
            for a in range(3):
                pos[i, a] = nrm[i, a] = geo[i, a] = 0.0
            continue
        f = face[i]
        ui, vi = u[i], v[i]
        w0 = 1.0 - ui - vi
        # template-frame normal interpolated over the triangle's corners, into the camera frame by
        # the part's inverse transpose, then normalised
        c0 = corner_normals[f, 0, 0] * w0 + corner_normals[f, 1, 0] * ui + corner_normals[f, 2, 0] * vi
        c1 = corner_normals[f, 0, 1] * w0 + corner_normals[f, 1, 1] * ui + corner_normals[f, 2, 1] * vi
        c2 = corner_normals[f, 0, 2] * w0 + corner_normals[f, 1, 2] * ui + corner_normals[f, 2, 2] * vi
        n0 = 0.0 + pf[p, 12] * c0 + pf[p, 13] * c1 + pf[p, 14] * c2
        n1 = 0.0 + pf[p, 15] * c0 + pf[p, 16] * c1 + pf[p, 17] * c2
        n2 = 0.0 + pf[p, 18] * c0 + pf[p, 19] * c1 + pf[p, 20] * c2
        ls = 1.0 / math.sqrt(0.0 + n0 * n0 + n1 * n1 + n2 * n2 + 1e-20)
        # rounded to float32 before the scaling, as when stored and scaled in place
        n0, n1, n2 = np.float32(np.float32(n0) * ls), np.float32(np.float32(n1) * ls), np.float32(np.float32(n2) * ls)
        if p != last_p or f != last_f:  # the face normal the same way
            f0, f1, f2 = face_normals[f, 0], face_normals[f, 1], face_normals[f, 2]
            e0 = 0.0 + pf[p, 12] * f0 + pf[p, 13] * f1 + pf[p, 14] * f2
            e1 = 0.0 + pf[p, 15] * f0 + pf[p, 16] * f1 + pf[p, 17] * f2
            e2 = 0.0 + pf[p, 18] * f0 + pf[p, 19] * f1 + pf[p, 20] * f2
            gs = 1.0 / math.sqrt(max(0.0 + e0 * e0 + e1 * e1 + e2 * e2, 1e-40))
            h0, h1, h2 = np.float32(np.float32(e0) * gs), np.float32(np.float32(e1) * gs), np.float32(np.float32(e2) * gs)
            last_p, last_f = p, f
        g0, g1, g2 = h0, h1, h2
        ti = t[i]
        pos[i, 0], pos[i, 1], pos[i, 2] = dirs[i, 0] * ti, dirs[i, 1] * ti, dirs[i, 2] * ti
        if 0.0 + g0 * dirs[i, 0] + g1 * dirs[i, 1] + g2 * dirs[i, 2] > 0:
            n0, n1, n2, g0, g1, g2 = -n0, -n1, -n2, -g0, -g1, -g2
        nrm[i, 0], nrm[i, 1], nrm[i, 2] = n0, n1, n2
        geo[i, 0], geo[i, 1], geo[i, 2] = g0, g1, g2


@njit(cache=True, nogil=True)
def init_visibility(part, lights, vis):
    """1 for lights without shadows on hits, 0 elsewhere (shadow rays then mark lit pairs)."""
    for i in range(part.shape[0]):
        for j in range(lights.shape[0]):
            vis[i, j] = 1.0 if (part[i] >= 0 and lights[j, 10] == 0) else 0.0


@njit(cache=True, nogil=True)
def shadow_origins(part, pos, geo, xf, org, org_scene):
    """Shadow-ray origin of every hit (part >= 0), shared by all its lights: the hit point moved
    off the surface along the geometric normal by 1 mm + 0.02 % of its distance, float32 in the
    camera frame (``org``, (N, 3)) and mapped into the scene frame by the rigid (3, 4) map ``xf``
    (``org_scene``, (N, 3), as packed into a ray packet)."""
    for i in range(part.shape[0]):
        if part[i] < 0:
            continue
        p0, p1, p2 = pos[i, 0], pos[i, 1], pos[i, 2]
        eps = 1e-3 + 2e-4 * math.sqrt(p0 ** 2 + p1 ** 2 + p2 ** 2)
        o0 = np.float32(p0 + geo[i, 0] * eps)
        o1 = np.float32(p1 + geo[i, 1] * eps)
        o2 = np.float32(p2 + geo[i, 2] * eps)
        org[i, 0], org[i, 1], org[i, 2] = o0, o1, o2
        for a in range(3):
            org_scene[i, a] = xf[a, 0] * o0 + xf[a, 1] * o1 + xf[a, 2] * o2 + xf[a, 3]


@njit(cache=True, nogil=True)
def _sky(d0, d1, d2, env, lights, tile, out):
    s = 1.0 / math.sqrt(d0 * d0 + d1 * d1 + d2 * d2 + 1e-20)
    d0, d1, d2 = d0 * s, d1 * s, d2 * s
    el = d0 * env[0] + d1 * env[1] + d2 * env[2]
    e = math.sqrt(min(max(el, 0.0), 1.0))
    for a in range(3):
        out[a] = env[15 + a] * (1 - e) + env[12 + a] * e if el >= 0 else env[15 + a] * 0.85
    if env[26] > 0:
        w0 = d0 * env[3] + d1 * env[4] + d2 * env[5]
        w1 = d0 * env[6] + d1 * env[7] + d2 * env[8]
        w2 = d0 * env[9] + d1 * env[10] + d2 * env[11]
        k = 1.0 / (max(w1, 0.05) + 0.05)
        c = _noise(tile, w0 * k * 0.75, w2 * k * 0.75, 3.0)
        c = min(max((c - (1 - env[26] * 0.6)) * 3, 0.0), 1.0) * (1.0 if el > 0 else 0.0)
        for a in range(3):
            out[a] = out[a] * (1 - c * 0.8) + c * 0.8 * (env[15 + a] * 0.4 + 0.6)
    for j in range(lights.shape[0]):
        if lights[j, 0] > 0:
            g = max(-(d0 * lights[j, 4] + d1 * lights[j, 5] + d2 * lights[j, 6]), 0.0)
            g4 = (g * g) * (g * g)
            w = g4 * g4 * g4 * 0.15
            if g > 0.9:  # below, g ** 400 < 1e-18
                w += g ** 400 * 12
            for a in range(3):
                out[a] += lights[j, 7 + a] * w


@njit(cache=True, nogil=True)
def shade(dirs, t, part, pos, nrm, vis, pf, pi, lights, env, tile, bank, focal, hdr):
    """Linear HDR radiance of every sample: shaded surface for hits, sky for misses."""
    for i in range(dirs.shape[0]):
        p = part[i]
        if p < 0:
            _sky(dirs[i, 0], dirs[i, 1], dirs[i, 2], env, lights, tile, hdr[i])
            continue
        n0, n1, n2 = nrm[i, 0], nrm[i, 1], nrm[i, 2]
        a0, a1, a2 = pf[p, 24], pf[p, 25], pf[p, 26]
        tid = pi[p, 2]
        if tid > 0:  # local coordinates q = R^T (x - trans), box-mapped by the dominant normal axis
            r0, r1, r2 = pos[i, 0] - pf[p, 9], pos[i, 1] - pf[p, 10], pos[i, 2] - pf[p, 11]
            q0 = r0 * pf[p, 0] + r1 * pf[p, 3] + r2 * pf[p, 6]
            q1 = r0 * pf[p, 1] + r1 * pf[p, 4] + r2 * pf[p, 7]
            q2 = r0 * pf[p, 2] + r1 * pf[p, 5] + r2 * pf[p, 8]
            if tid == _IMAGE:
                iu = int(min(max(q0 / pf[p, 21] + 0.5, 0.0), 0.999) * bank.shape[2])
                iv = int(min(max(0.5 - q1 / pf[p, 22], 0.0), 0.999) * bank.shape[1])
                img = pi[p, 3]
                a0, a1, a2 = bank[img, iv, iu, 0], bank[img, iv, iu, 1], bank[img, iv, iu, 2]
            else:
                m0 = abs(n0 * pf[p, 0] + n1 * pf[p, 3] + n2 * pf[p, 6])
                m1 = abs(n0 * pf[p, 1] + n1 * pf[p, 4] + n2 * pf[p, 7])
                m2 = abs(n0 * pf[p, 2] + n1 * pf[p, 5] + n2 * pf[p, 8])
                ax = 0 if (m0 >= m1 and m0 >= m2) else (1 if m1 >= m2 else 2)
                qu = q2 if ax == 0 else q0
                qv = q2 if ax == 1 else q1
                s = pf[p, 30]
                fade = min(max(t[i] / focal * 2.5 / s - 0.25, 0.0), 1.0)
                w = texture_weight(tid, qu / s, qv / s, fade, pf[p, 34], tile)
                a0, a1, a2 = a0 + (pf[p, 27] - a0) * w, a1 + (pf[p, 28] - a1) * w, a2 + (pf[p, 29] - a2) * w
        hemi = (n0 * env[0] + n1 * env[1] + n2 * env[2]) * 0.5 + 0.5
        dl = math.sqrt(dirs[i, 0] ** 2 + dirs[i, 1] ** 2 + dirs[i, 2] ** 2 + 1e-20)
        v0, v1, v2 = -dirs[i, 0] / dl, -dirs[i, 1] / dl, -dirs[i, 2] / dl
        shin = pf[p, 32]
        lr, lg, lb = (env[21] * (1 - hemi) + env[18] * hemi, env[22] * (1 - hemi) + env[19] * hemi,
                      env[23] * (1 - hemi) + env[20] * hemi)
        sr = sg = sb = 0.0
        for j in range(lights.shape[0]):
            if vis[i, j] == 0:
                continue
            if lights[j, 0] > 0:
                l0, l1, l2 = -lights[j, 4], -lights[j, 5], -lights[j, 6]
                er, eg, eb = lights[j, 7], lights[j, 8], lights[j, 9]
            else:
                x0, x1, x2 = lights[j, 1] - pos[i, 0], lights[j, 2] - pos[i, 1], lights[j, 3] - pos[i, 2]
                d2 = x0 * x0 + x1 * x1 + x2 * x2
                dd = math.sqrt(d2)
                l0, l1, l2 = x0 / dd, x1 / dd, x2 / dd
                a = 1.0 / (d2 + 0.3)
                er, eg, eb = lights[j, 7] * a, lights[j, 8] * a, lights[j, 9] * a
            ndl = max(n0 * l0 + n1 * l1 + n2 * l2, 0.0) * vis[i, j]
            if ndl == 0:
                continue
            lr += er * ndl
            lg += eg * ndl
            lb += eb * ndl
            h0, h1, h2 = l0 + v0, l1 + v1, l2 + v2
            nh = (n0 * h0 + n1 * h1 + n2 * h2) / math.sqrt(h0 * h0 + h1 * h1 + h2 * h2 + 1e-20)
            if nh > pf[p, 35]:
                # the power in float32, as the array version computes it (and ~3x cheaper than in float64)
                sp = ndl * np.float32(nh) ** np.float32(shin)
                sr += er * sp
                sg += eg * sp
                sb += eb * sp
        ks, em = pf[p, 31], pf[p, 33] * 1.5
        col0 = a0 * lr + ks * sr + a0 * em
        col1 = a1 * lg + ks * sg + a1 * em
        col2 = a2 * lb + ks * sb + a2 * em
        if env[24] > 0:
            f = math.exp(-t[i] / env[24])
            col0, col1, col2 = col0 * f + env[15] * (1 - f), col1 * f + env[16] * (1 - f), col2 * f + env[17] * (1 - f)
        hdr[i, 0], hdr[i, 1], hdr[i, 2] = col0, col1, col2


@njit(cache=True, nogil=True)
def exposure_scale(hdr, exposure):
    """Automatic exposure from the log-average luminance of all samples."""
    acc = 0.0
    for i in range(hdr.shape[0]):
        acc += math.log(hdr[i, 0] * 0.2126 + hdr[i, 1] * 0.7152 + hdr[i, 2] * 0.0722 + 1e-3)
    key = math.exp(acc / max(hdr.shape[0], 1))
    return min(max(0.3 / key * exposure, 0.05), 50.0)


TONE_Z_MAX = 24.0  # exposed radiance beyond which the tone curve is 1 to float32 precision
_TONE_N = 8192
#: filmic tone curve and display gamma, (1 - exp(-z)) ** (1 / 2.2), sampled uniformly in
#: sqrt(z / TONE_Z_MAX) (fine steps near black, where the gamma is steep); linear interpolation
#: stays well under one level of 255 (tested)
TONE_LUT = ((1 - np.exp(-TONE_Z_MAX * np.linspace(0.0, 1.0, _TONE_N + 1) ** 2)) ** (1 / 2.2)).astype(np.float32)


@njit(cache=True, nogil=True)
def tone(z, lut):
    """Tone curve and gamma of exposed radiance z >= 0 by table (see TONE_LUT)."""
    n = lut.shape[0] - 1
    s = math.sqrt(min(max(z, 0.0), TONE_Z_MAX) / TONE_Z_MAX) * n
    k = min(int(s), n - 1)
    return lut[k] + (lut[k + 1] - lut[k]) * (s - k)


@njit(cache=True, nogil=True)
def resolve(hdr, owner, scale, n_pixels, lut, rgb):
    """Filmic tone curve and display gamma per sample, averaged over each pixel's samples, to uint8."""
    acc = np.zeros((n_pixels, 3))
    cnt = np.zeros(n_pixels)
    k = scale * 1.4
    for i in range(hdr.shape[0]):
        o = owner[i]
        cnt[o] += 1
        for a in range(3):
            acc[o, a] += tone(hdr[i, a] * k, lut)
    for o in range(n_pixels):
        for a in range(3):
            rgb[o, a] = np.uint8(min(max(acc[o, a] / cnt[o] * 255 + 0.5, 0.0), 255.0))
