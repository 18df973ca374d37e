"""Editing pairs: an instruction, the source render and the re-rendered target.

The target is rendered from an edited copy of the scene description with the source's exposure,
so pixels the edit does not touch keep their exact bytes. ``changed_mask`` is where the edit may
change pixels: the edited object's old and new footprints and every pixel whose shadowing
changes (dilated by one pixel for anti-aliased edges); for light edits, everywhere (geometry and
labels stay identical).
"""

from __future__ import annotations

import copy

import numpy as np

from openbanana.data.synthetic.classes import CLASS_ID
from openbanana.data.synthetic.generate import parse_size, scene_from_spec
from openbanana.data.synthetic.language import COLOURED, candidates, min_pixels, noun_phrase, resolve
from openbanana.data.synthetic.materials import COLOR_NAMES, named
from openbanana.data.synthetic.scene import Edit, Scene, WorldSpec
from openbanana.data.synthetic.splits import split_config
from openbanana.data.synthetic.world import (
    OBJECT_COLORS,
    Builder,
    FastRng,
    person,
    sample_world,
    small_object,
)

EDIT_KINDS: tuple[str, ...] = ("recolor", "remove", "move", "add", "light")
_SMALL = frozenset({"ball", "bottle", "cup", "box", "vase", "toy", "book", "plant", "chair"})


def dilate(mask: np.ndarray, r: int = 1) -> np.ndarray:
    out = mask.copy()
    for _ in range(r):
        m = out.copy()
        m[1:] |= out[:-1]
        m[:-1] |= out[1:]
        m[:, 1:] |= out[:, :-1]
        m[:, :-1] |= out[:, 1:]
        out = m
    return out


def _refer(scene: Scene, inst: int) -> str | None:
    for expr, i in scene.referring:
        if i == inst:
            return expr
    o = scene.object(inst)
    for wc in (True, False):
        expr = "the " + noun_phrase(o, wc and o.class_name in COLOURED)
        if resolve(expr, scene) == [inst]:
            return expr
    return None


def _shadow_change(a: dict, b: dict) -> np.ndarray:
    """Pixels whose light visibility (over all their samples) or sampling pattern changed."""
    la, lb = a["lit_frac"], b["lit_frac"]
    if la.shape != lb.shape:
        return np.ones(la.shape[:2], bool)
    return (la != lb).any(-1) | (a["n_samples"] != b["n_samples"])


def _cover(out: dict, inst: int) -> np.ndarray:
    """Pixels any of whose samples (centre or anti-aliasing) hit instance ``inst``."""
    H, W = out["instance"].shape
    m = np.zeros(H * W, bool)
    m[out["owner"][out["sample_inst"] == inst]] = True
    return m.reshape(H, W)


def _render_target(spec: WorldSpec, size, src_out: dict):
    return scene_from_spec(spec, size, exposure_scale=src_out["exposure_scale"])


def _recolor(rng, spec, src, out, size):
    objs = [o for o in candidates(src) if o.class_name in COLOURED and o.class_name not in ("lamp", "person")]
    rng.shuffle(objs)
    for o in objs:
        expr = _refer(src, o.instance_id)
        if expr is None:
            continue
        new = str(rng.choice([c for c in OBJECT_COLORS if c != o.color_name]))
        tgt_spec = copy.deepcopy(spec)
        ref = np.asarray(COLOR_NAMES[o.color_name]) / 255.0
        changed = 0
        for p in tgt_spec.parts:
            if p.instance_id == o.instance_id and np.abs(np.asarray(p.material.color) - ref).max() < 0.25:
                p.material.color = named(new)
                changed += 1
        if not changed:
            continue
        for x in tgt_spec.objects:
            if x.instance_id == o.instance_id:
                x.color_name, x.color_rgb = new, tuple(COLOR_NAMES[new])
        tgt, tout = _render_target(tgt_spec, size, out)
        verb = str(rng.choice(["make {e} {c}", "paint {e} {c}", "change the colour of {e} to {c}"]))
        mask = dilate(_cover(out, o.instance_id) | _shadow_change(out, tout))
        return verb.format(e=expr, c=new), tgt, tout, mask, o.instance_id
    return None


def _remove(rng, spec, src, out, size):
    supporting = {x.support for x in spec.objects if x.support is not None}
    objs = [o for o in candidates(src) if o.class_name not in ("lamp", "door", "window", "painting", "rug")
            and o.instance_id not in supporting]
    rng.shuffle(objs)
    for o in objs:
        expr = _refer(src, o.instance_id)
        if expr is None:
            continue
        tgt_spec = copy.deepcopy(spec)
        tgt_spec.parts = [p for p in tgt_spec.parts if p.instance_id != o.instance_id]
        tgt_spec.objects = [x for x in tgt_spec.objects if x.instance_id != o.instance_id]
        tgt, tout = _render_target(tgt_spec, size, out)
        mask = dilate(_cover(out, o.instance_id) | _shadow_change(out, tout))
        verb = str(rng.choice(["remove {e}", "take away {e}", "delete {e}"]))
        return verb.format(e=expr), tgt, tout, mask, o.instance_id
    return None


def _move(rng, spec, src, out, size):
    c2w = spec.camera.cam_to_world()
    right = c2w[:, 0] * np.array([1, 0, 1])
    fwd = -c2w[:, 2] * np.array([1, 0, 1])
    right /= np.linalg.norm(right) + 1e-9
    fwd /= np.linalg.norm(fwd) + 1e-9
    objs = [o for o in candidates(src) if o.support is None and (o.class_name in _SMALL or o.class_name == "person")]
    rng.shuffle(objs)
    H, W = src.size
    for o in objs:
        expr = _refer(src, o.instance_id)
        if expr is None:
            continue
        dist = float(rng.uniform(0.3, 0.7) * (3.0 if o.class_name == "person" else 1.0))
        options = [("to the left", -right), ("to the right", right), ("closer to the camera", -fwd),
                   ("further away", fwd)]
        phrase, direction = options[int(rng.integers(len(options)))]
        delta = direction * dist
        tgt_spec = copy.deepcopy(spec)
        for p in tgt_spec.parts:
            if p.instance_id == o.instance_id:
                p.offset = tuple(float(a + b) for a, b in zip(p.offset, delta))
        for x in tgt_spec.objects:
            if x.instance_id == o.instance_id:
                x.position_world_m = tuple(float(a + b) for a, b in zip(x.position_world_m, delta))
        tgt, tout = _render_target(tgt_spec, size, out)
        if (tgt.instance == o.instance_id).sum() < min_pixels(H, W):
            continue
        mask = dilate(_cover(out, o.instance_id) | _cover(tout, o.instance_id) | _shadow_change(out, tout))
        return f"move {expr} {phrase}", tgt, tout, mask, o.instance_id
    return None


def _add(rng, spec, src, out, size):
    H, W = src.size
    ground = ("floor", "rug") if spec.kind == "indoor" else ("sidewalk", "road", "terrain")
    gid = [CLASS_ID[g] for g in ground]
    ok = np.isin(src.semantic, gid)
    r = max(2, H // 24)
    # pixels whose whole neighbourhood is ground, away from the image border
    ok2 = ok.copy()
    for dy in (-r, 0, r):
        for dx in (-r, 0, r):
            ok2 &= np.roll(np.roll(ok, dy, 0), dx, 1)
    ok2[: 2 * r] = ok2[-2 * r :] = False
    ok2[:, : 2 * r] = ok2[:, -2 * r :] = False
    cand = np.flatnonzero(ok2)
    if len(cand) == 0:
        return None
    for _ in range(6):
        pix = int(rng.choice(cand))
        y, x = divmod(pix, W)
        f = spec.camera.focal_px(W)
        z = float(src.depth_m[y, x])
        p_cam = np.array([(x + 0.5 - W / 2) / f, -(y + 0.5 - H / 2) / f, -1.0]) * z
        pw = spec.camera.cam_to_world() @ p_cam + np.asarray(spec.camera.position_m)
        if any((pw[0] - o.position_world_m[0]) ** 2 + (pw[2] - o.position_world_m[2]) ** 2
               < (0.3 + 0.5 * max(o.size_m[0], o.size_m[2])) ** 2 for o in spec.objects):
            continue
        tgt_spec = copy.deepcopy(spec)
        b = Builder(FastRng(int(rng.integers(1 << 30))), split_config(spec.split))
        b.parts, b.objects = tgt_spec.parts, tgt_spec.objects
        if spec.kind == "indoor":
            inst = small_object(b, pw[0], pw[2], float(pw[1]), None, max_size=0.35)
        else:
            inst = person(b, pw[0], pw[2], float(rng.uniform(0, 360)))
        tgt_spec.lights = spec.lights  # adding never adds light
        o = tgt_spec.objects[inst - 1]
        tgt, tout = _render_target(tgt_spec, size, out)
        if (tgt.instance == inst).sum() < min_pixels(H, W):
            continue
        where = {"floor": "on the floor", "rug": "on the rug", "sidewalk": "on the sidewalk", "road": "on the road",
                 "terrain": "on the grass"}[str(np.asarray(ground)[np.argmax([src.semantic[y, x] == g for g in gid])])]
        art = "an" if noun_phrase(o, True)[0] in "aeiou" else "a"
        text = f"add {art} {noun_phrase(o, o.class_name in COLOURED)} {where}"
        mask = dilate(_cover(tout, inst) | _shadow_change(out, tout))
        return text, tgt, tout, mask, inst
    return None


def _light(rng, spec, src, out, size):
    tgt_spec = copy.deepcopy(spec)
    options = ["warmer", "cooler", "dimmer", "brighter"]
    if spec.kind == "outdoor":
        options.append("sunset")
    choice = options[int(rng.integers(len(options)))]
    for L in tgt_spec.lights:
        c = np.asarray(L.color, np.float64)
        if choice == "warmer":
            c = c * np.array([1.0, 0.8, 0.55])
        elif choice == "cooler":
            c = c * np.array([0.7, 0.85, 1.0])
        elif choice == "dimmer":
            L.intensity *= 0.35
        elif choice == "brighter":
            L.intensity *= 2.2
        elif choice == "sunset" and L.kind == "sun":
            c = np.array([1.0, 0.5, 0.25])
            d = np.asarray(L.direction, np.float64)
            d[1] = -0.12
            L.direction = tuple(float(v) for v in d / np.linalg.norm(d))
        L.color = tuple(float(v) for v in c)
    env = tgt_spec.env
    tint = {"warmer": (1.0, 0.8, 0.55), "cooler": (0.7, 0.85, 1.0)}.get(choice)
    if tint is not None:  # the ambient (sky and bounce) light shifts with the lamps and the sun
        env.ambient_up = tuple(a * t for a, t in zip(env.ambient_up, tint))
        env.ambient_down = tuple(a * t for a, t in zip(env.ambient_down, tint))
    if choice == "dimmer":
        env.ambient_up = tuple(a * 0.35 for a in env.ambient_up)
        env.ambient_down = tuple(a * 0.35 for a in env.ambient_down)
    elif choice == "brighter":
        env.ambient_up = tuple(a * 1.8 for a in env.ambient_up)
    elif choice == "sunset":
        env.sky_zenith, env.sky_horizon = (0.25, 0.2, 0.45), (1.0, 0.55, 0.3)
        env.ambient_up = (0.3, 0.22, 0.3)
    text = {"warmer": "make the light warmer", "cooler": "make the light cooler", "dimmer": "dim the lights",
            "brighter": "make the scene brighter", "sunset": "change the time of day to sunset"}[choice]
    tgt, tout = _render_target(tgt_spec, size, out)
    return text, tgt, tout, np.ones(src.size, bool), 0


_MAKERS = {"recolor": _recolor, "remove": _remove, "move": _move, "add": _add, "light": _light}


def make_edit(seed: int, *, split: str = "train", size=128, kind: str | None = None) -> Edit:
    """An editing pair from scene ``seed``.

    Args:
        seed, split, size: as in render_scene. kind: one of EDIT_KINDS, or None to draw one (when the
            drawn kind has no valid object the next kind is tried; "light" always succeeds).
    Returns:
        Edit with instruction, source and target uint8 (H, W, 3), kind, changed_mask (H, W) bool,
        instance_id (the edited object, 0 for light) and both Scenes.
    """
    if kind is not None and kind not in EDIT_KINDS:
        raise ValueError(f"unknown edit kind {kind!r}; expected one of: {', '.join(EDIT_KINDS)}")
    H, W = parse_size(size)
    spec = sample_world(seed, split)
    src, out = scene_from_spec(copy.deepcopy(spec), (H, W))
    rng = np.random.default_rng([int(seed), 0xED17, split_config(split).salt])
    kinds = [kind] if kind else [str(k) for k in rng.permutation(EDIT_KINDS)]
    for k in kinds + ["light"]:
        res = _MAKERS[k](rng, spec, src, out, (H, W))
        if res is not None:
            text, tgt, _tout, mask, inst = res
            return Edit(text, src.rgb, tgt.rgb, k, mask, inst, int(seed), split, src, tgt)
    raise AssertionError("unreachable: light edits always succeed")
