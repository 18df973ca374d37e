"""Indoor rooms: furniture as compound objects, clutter on surfaces and floors, lamps, windows,
doors, paintings; the camera inside the room looking in."""

from __future__ import annotations

import math

import numpy as np

from openbanana.data.synthetic.builder import OBJECT_COLORS, WOOD_COLORS, Builder, Yaw
from openbanana.data.synthetic.materials import Material, named
from openbanana.data.synthetic.scene import Camera, Environment, Light, rot_x, rot_y, rot_z

# fixed tilts, built once; every part gets its own copy
_X90 = rot_x(90)
_Z90 = rot_z(90) @ np.diag([1, 1, 1])


def table(b: Builder, x, z, yaw, w, d, h, color, round_top=False, cls="table"):
    m = b.mat(color, "wood" if color in ("brown", "beige") else "flat", scale=0.12, specular=0.15)
    inst = b.new_object(cls, color, (w, h, d), (x, h / 2, z), "compound")
    if round_top:
        b.part("cylinder", (w, 0.04, w), (x, h - 0.02, z), m, cls, inst)
        b.part("cylinder_lo", (0.08, h - 0.04, 0.08), (x, (h - 0.04) / 2, z), m, cls, inst)
        b.part("cylinder", (w * 0.5, 0.03, w * 0.5), (x, 0.015, z), m, cls, inst)
        d = w
    else:
        b.part("box", (w, 0.04, d), (x, h - 0.02, z), m, cls, inst, yaw)
        turn = Yaw(yaw)
        for sx in (-1, 1):
            for sz in (-1, 1):
                ox, oz = turn.offset(sx * (w / 2 - 0.05), sz * (d / 2 - 0.05))
                b.part("box", (0.045, h - 0.04, 0.045), (x + ox, (h - 0.04) / 2, z + oz), m, cls, inst, yaw)
    b.surfaces.append((inst, x, z, w * 0.85, d * 0.85, h, yaw))
    return inst


def cabinet(b: Builder, x, z, yaw, w, d, h, color):
    m = b.mat(color, "wood" if color in ("brown", "beige") else "flat", scale=0.15, specular=0.1)
    inst = b.new_object("cabinet", color, (w, h, d), (x, h / 2, z), "box")
    b.part("box", (w, h - 0.06, d), (x, (h - 0.06) / 2 + 0.06, z), m, "cabinet", inst, yaw)
    b.part("box", (w - 0.04, 0.06, d - 0.06), (x, 0.03, z), b.mat("black"), "cabinet", inst, yaw)
    # drawer fronts and knobs
    turn = Yaw(yaw)
    for k in range(2):
        ox, oz = turn.offset((k - 0.5) * w / 2, d / 2 + 0.005)
        b.part("box", (w / 2 - 0.03, h * 0.7, 0.01), (x + ox, h * 0.5, z + oz), b.mat(color, jitter=0.1),
               "cabinet", inst, yaw)
        ox, oz = turn.offset((k - 0.5) * w / 2, d / 2 + 0.02)
        b.part("sphere_lo", (0.03, 0.03, 0.03), (x + ox, h * 0.75, z + oz), b.mat("gray", specular=0.6),
               "cabinet", inst)
    b.surfaces.append((inst, x, z, w * 0.85, d * 0.8, h, yaw))
    return inst


def chair(b: Builder, x, z, yaw, color):
    m = b.mat(color, "flat", specular=0.1)
    s, h = 0.46, 0.45
    inst = b.new_object("chair", color, (s, 0.9, s), (x, 0.45, z), "compound")
    turn = Yaw(yaw)
    b.part("box", (s, 0.05, s), (x, h, z), m, "chair", inst, yaw)
    ox, oz = turn.along_z(-s / 2 + 0.025)
    b.part("box", (s, 0.45, 0.04), (x + ox, h + 0.25, z + oz), m, "chair", inst, yaw)
    for sx in (-1, 1):
        for sz in (-1, 1):
            ox, oz = turn.offset(sx * (s / 2 - 0.03), sz * (s / 2 - 0.03))
            b.part("cylinder_lo", (0.035, h, 0.035), (x + ox, h / 2, z + oz), m, "chair", inst)
    return inst


def sofa(b: Builder, x, z, yaw, w, color):
    tex = b.pattern() if b.rng.uniform() < 0.3 else "noise"
    m = b.mat(color, tex, scale=0.15, specular=0.02, color2=tuple(c * 0.75 for c in named(color)))
    d, h = 0.9, 0.85
    inst = b.new_object("sofa", color, (w, h, d), (x, h / 2, z), "compound")
    turn = Yaw(yaw)
    b.part("box", (w, 0.25, d), (x, 0.2, z), m, "sofa", inst, yaw)
    ox, oz = turn.along_z(0.1)
    b.part("box", (w - 0.3, 0.15, d - 0.25), (x + ox, 0.4, z + oz), m, "sofa", inst, yaw)
    ox, oz = turn.along_z(-d / 2 + 0.12)
    b.part("box", (w, 0.5, 0.24), (x + ox, 0.55, z + oz), m, "sofa", inst, yaw)
    for sx in (-1, 1):  # arms stand 1 cm proud of the base on every side (no coincident faces)
        ox, oz = turn.along_x(sx * (w / 2 - 0.09))
        b.part("box", (0.2, 0.3, d + 0.02), (x + ox, 0.45, z + oz), m, "sofa", inst, yaw)
    for sx in (-1, 1):
        ox, oz = turn.offset(sx * 0.09, -d / 2 + 0.05)
        b.part("box", (0.06, 0.08, 0.06), (x + ox * 5, 0.04, z + oz), b.mat("black"), "sofa", inst, yaw)
    return inst


def bed(b: Builder, x, z, yaw, w, color):
    L = 2.05
    inst = b.new_object("bed", color, (w, 0.9, L), (x, 0.3, z), "compound")
    turn = Yaw(yaw)
    frame = b.mat(b.choice(WOOD_COLORS), "wood", scale=0.1)
    b.part("box", (w, 0.3, L), (x, 0.15, z), frame, "bed", inst, yaw)
    sheet = b.mat(color, b.pattern() if b.rng.uniform() < 0.5 else "flat", color2="white", scale=0.2)
    b.part("box", (w - 0.06, 0.22, L - 0.08), (x, 0.41, z), sheet, "bed", inst, yaw)
    ox, oz = turn.along_z(-L / 2)
    b.part("box", (w, 0.95, 0.06), (x + ox, 0.475, z + oz), frame, "bed", inst, yaw)
    for sx in ((-0.25, 0.25) if w > 1.2 else (0.0,)):
        ox, oz = turn.offset(sx * w, -L / 2 + 0.3)
        b.part("capsule", (0.5, 0.55, 0.32), (x + ox, 0.56, z + oz), b.mat("white"), "bed", inst, yaw,
               tilt=_Z90.copy())
    return inst


def shelf(b: Builder, x, z, yaw, w, h, color, fill=True):
    d = 0.34
    m = b.mat(color, "wood" if color in ("brown", "beige") else "flat", scale=0.1)
    inst = b.new_object("shelf", color, (w, h, d), (x, h / 2, z), "compound")
    turn = Yaw(yaw)
    for sx in (-1, 1):
        ox, oz = turn.along_x(sx * (w / 2 - 0.015))
        b.part("box", (0.03, h, d), (x + ox, h / 2, z + oz), m, "shelf", inst, yaw)
    ox, oz = turn.along_z(-d / 2 + 0.01)
    b.part("box", (w, h, 0.02), (x + ox, h / 2, z + oz), m, "shelf", inst, yaw)
    n = max(2, int(h / 0.38))
    for k in range(n + 1):
        y = 0.04 + k * (h - 0.06) / n
        b.part("box", (w - 0.04, 0.025, d), (x, y, z), m, "shelf", inst, yaw)
        if fill and k < n and b.rng.uniform() < 0.8:
            books(b, x, z, yaw, w - 0.08, d, y + 0.0125, min(0.3, (h - 0.06) / n - 0.04), inst)
    return inst


def books(b: Builder, x, z, yaw, w, d, y, hmax, support):
    turn = Yaw(yaw)
    u = -w / 2 + b.rng.uniform(0, 0.15)
    end = w / 2 * b.rng.uniform(0.3, 1.0)
    while u < end - 0.04:
        t = b.rng.uniform(0.02, 0.05)
        hh = b.rng.uniform(0.6, 1.0) * hmax
        col = b.choice(OBJECT_COLORS)
        ox, oz = turn.offset(u + t / 2, 0.02)
        pos = (x + ox, y + hh / 2, z + oz)
        inst = b.new_object("book", col, (t, hh, d * 0.7), pos, "box", support)
        b.part("box", (t, hh, d * 0.7), pos, b.mat(col, jitter=0.12), "book", inst, yaw)
        u += t + (0.002 if b.rng.uniform() < 0.9 else b.rng.uniform(0.05, 0.15))


def floor_lamp(b: Builder, x, z, on=True):
    h = b.rng.uniform(1.4, 1.8)
    col = b.choice(("black", "white", "gray", "brown"))
    inst = b.new_object("lamp", b.choice(("white", "beige")), (0.45, h, 0.45), (x, h / 2, z), "compound")
    m = b.mat(col, specular=0.4, shininess=40)
    b.part("cylinder", (0.3, 0.03, 0.3), (x, 0.015, z), m, "lamp", inst)
    b.part("cylinder_lo", (0.025, h - 0.2, 0.025), (x, (h - 0.2) / 2, z), m, "lamp", inst)
    shade = b.mat(b.objects[-1].color_name, emissive=0.9 if on else 0.0)
    b.part("shade", (0.42, 0.3, 0.42), (x, h - 0.1, z), shade, "lamp", inst, caster=False)
    if on:
        b.lights.append(Light("point", light_color(b), b.rng.uniform(3, 6), (x, h - 0.15, z), instance_id=inst))
    return inst


def table_lamp(b: Builder, sx, sz, y, support):
    h = b.rng.uniform(0.35, 0.5)
    inst = b.new_object("lamp", b.choice(("white", "beige", "yellow")), (0.25, h, 0.25), (sx, y + h / 2, sz),
                        "compound", support)
    m = b.mat(b.choice(("black", "gray", "white")), specular=0.3)
    b.part("cylinder", (0.14, 0.03, 0.14), (sx, y + 0.015, sz), m, "lamp", inst)
    b.part("cylinder_lo", (0.02, h - 0.12, 0.02), (sx, y + (h - 0.12) / 2, sz), m, "lamp", inst)
    b.part("shade", (0.25, 0.17, 0.25), (sx, y + h - 0.085, sz), b.mat(b.objects[-1].color_name, emissive=0.9),
           "lamp", inst, caster=False)
    b.lights.append(Light("point", light_color(b), b.rng.uniform(1.5, 3), (sx, y + h - 0.1, sz), instance_id=inst))
    return inst


def ceiling_lamp(b: Builder, x, z, H):
    inst = b.new_object("lamp", "white", (0.35, 0.12, 0.35), (x, H - 0.06, z), "compound")
    b.part("cylinder", (0.35, 0.08, 0.35), (x, H - 0.04, z), b.mat("white", emissive=1.6), "lamp", inst, caster=False)
    b.lights.append(Light("point", light_color(b), b.rng.uniform(6, 11), (x, H - 0.25, z), instance_id=inst))
    return inst


def light_color(b: Builder) -> tuple[float, float, float]:
    if b.cfg.light_mode == "colored":
        hue = b.rng.uniform(0, 1)
        c = (abs(hue * 6 - 3) - 1, 2 - abs(hue * 6 - 2), 2 - abs(hue * 6 - 4))
        return tuple(0.25 + 0.75 * min(max(v, 0.0), 1.0) for v in c)
    warm = b.rng.uniform(0, 1)
    return (1.0, 0.93 - 0.12 * warm, 0.86 - 0.28 * warm)


def plant(b: Builder, x, z, y, scale, support=None):
    hp = 0.25 * scale
    inst = b.new_object("plant", "green", (0.5 * scale, 1.0 * scale, 0.5 * scale), (x, y + 0.5 * scale, z),
                        "compound", support)
    pot_col = b.choice(("orange", "white", "black", "brown", "teal"))
    b.part("pot", (0.28 * scale, hp, 0.28 * scale), (x, y + hp / 2, z), b.mat(pot_col, specular=0.2), "plant", inst)
    leaf = b.mat("green", "noise", color2=(0.05, 0.3, 0.05), scale=0.05)
    if b.rng.uniform() < 0.5:
        b.part(f"blob{int(b.rng.integers(3))}", (0.5 * scale, 0.6 * scale, 0.5 * scale),
               (x, y + hp + 0.27 * scale, z), leaf, "plant", inst, yaw=b.rng.uniform(0, 360))
    else:
        for k in range(5):
            a = k * 72 + b.rng.uniform(-20, 20)
            b.part("cone", (0.1 * scale, 0.6 * scale, 0.1 * scale), (x, y + hp + 0.25 * scale, z), leaf, "plant", inst,
                   yaw=a, tilt=rot_x(b.rng.uniform(10, 35)))
    return inst


def small_object(b: Builder, x, z, y, support, max_size=0.35):
    """A ball, bottle, cup, box, vase or toy standing (or lying) at (x, y, z)."""
    kind = b.choice(("ball", "bottle", "cup", "box", "vase", "toy", "ball", "bottle", "box"))
    col = b.choice(OBJECT_COLORS)
    tex = "flat" if b.rng.uniform() < 0.7 else b.pattern()
    m = b.mat(col, tex, color2="white" if col != "white" else "black", scale=0.04,
              specular=b.rng.uniform(0.05, 0.5), shininess=float(b.rng.uniform(8, 60)))
    yaw = b.rng.uniform(0, 360)
    if kind == "ball":
        r = b.rng.uniform(0.04, min(0.16, max_size / 2))
        inst = b.new_object("ball", col, (2 * r,) * 3, (x, y + r, z), "sphere", support, rolls=True)
        b.part("sphere", (2 * r,) * 3, (x, y + r, z), m, "ball", inst)
    elif kind == "bottle":
        h = b.rng.uniform(0.18, min(0.34, max_size))
        r = h * b.rng.uniform(0.14, 0.2)
        lying = b.rng.uniform() < 0.25
        m.specular, m.shininess = 0.5, 60.0
        if lying:
            inst = b.new_object("bottle", col, (2 * r, 2 * r, h), (x, y + r, z), "bottle", support, rolls=True)
            b.part("bottle", (2 * r, h, 2 * r), (x, y + r, z), m, "bottle", inst, yaw, tilt=_X90.copy())
        else:
            inst = b.new_object("bottle", col, (2 * r, h, 2 * r), (x, y + h / 2, z), "bottle", support)
            b.part("bottle", (2 * r, h, 2 * r), (x, y + h / 2, z), m, "bottle", inst, yaw)
    elif kind == "cup":
        h = b.rng.uniform(0.08, 0.12)
        inst = b.new_object("cup", col, (h * 0.85, h, h * 0.85), (x, y + h / 2, z), "cup", support)
        b.part("cup", (h * 0.85, h, h * 0.85), (x, y + h / 2, z), m, "cup", inst, yaw)
        b.part("torus", (h * 0.45, h * 0.5, h * 0.45), (x + h * 0.45 * math.cos(math.radians(yaw)), y + h * 0.55,
               z - h * 0.45 * math.sin(math.radians(yaw))), m, "cup", inst, yaw, tilt=_X90.copy())
    elif kind == "box":
        k = b.rng.uniform(0.08, max_size)
        s = (k, k * b.rng.uniform(0.4, 1.0), k * b.rng.uniform(0.6, 1.2))
        m.texture = "flat" if b.rng.uniform() < 0.6 else b.pattern()
        inst = b.new_object("box", col, s, (x, y + s[1] / 2, z), "box", support)
        b.part("box", s, (x, y + s[1] / 2, z), m, "box", inst, yaw)
    elif kind == "vase":
        h = b.rng.uniform(0.15, min(0.4, max_size + 0.05))
        m.specular, m.shininess = 0.6, 50.0
        inst = b.new_object("vase", col, (h * 0.5, h, h * 0.5), (x, y + h / 2, z), "vase", support)
        b.part("vase", (h * 0.5, h, h * 0.5), (x, y + h / 2, z), m, "vase", inst, yaw)
    else:
        shape = b.choice(b.cfg.toy_shapes)
        s = b.rng.uniform(0.08, min(0.25, max_size))
        scale, tilt, rolls = (s, s, s), None, shape == "sphere"
        bbox = (s, s, s)  # metric bounding box after the tilt
        if shape == "torus":
            bbox = (s, 0.3 * s, s)
        elif shape in ("cylinder", "capsule"):
            scale = (s * 0.6, s, s * 0.6)
            w = 0.6 * s if shape == "cylinder" else 0.3 * s
            bbox = (w, s, w)
            if b.rng.uniform() < 0.5:
                tilt, rolls, bbox = _Z90.copy(), True, (s, w, w)
        elif shape == "star":
            tilt, bbox = _X90.copy(), (0.96 * s, 0.3 * s, 0.9 * s)
        elif shape == "knot":
            bbox = (0.82 * s, 0.4 * s, 0.86 * s)
        elif shape == "gem":
            bbox = (0.68 * s, 0.94 * s, 0.68 * s)
        lift = bbox[1] / 2
        inst = b.new_object("toy", col, bbox, (x, y + lift, z), shape, support, rolls=rolls)
        b.part(shape, scale, (x, y + lift, z), m, "toy", inst, yaw, tilt=tilt)
    return inst


def clutter_surfaces(b: Builder, density: float):
    for sid, x, z, w, d, y, yaw in list(b.surfaces):
        n = b.rng.poisson(density * w * d * 8 + 0.5)
        turn = Yaw(yaw)
        placed: list[tuple[float, float]] = []
        for _ in range(min(int(n), 6)):
            lu, lv = b.rng.uniform(-w / 2 + 0.06, w / 2 - 0.06), b.rng.uniform(-d / 2 + 0.06, d / 2 - 0.06)
            if any((lu - pu) ** 2 + (lv - pv) ** 2 < 0.2 ** 2 for pu, pv in placed):
                continue
            placed.append((lu, lv))
            ox, oz = turn.offset(lu, lv)
            if (b.rng.uniform() < 0.12 and b.objects[sid - 1].class_name in ("table", "cabinet")
                    and sum(L.kind == "point" for L in b.lights) < 3):
                table_lamp(b, x + ox, z + oz, y, sid)
                continue
            if b.rng.uniform() < 0.1:
                plant(b, x + ox, z + oz, y, b.rng.uniform(0.35, 0.6), sid)
                continue
            small_object(b, x + ox, z + oz, y, sid, max_size=0.3)


# =========================================================================== rooms
def room(b: Builder, rtype: str):
    rng = b.rng
    W, D = rng.uniform(3.2, 7.0), rng.uniform(3.5, 8.0)
    H = rng.uniform(2.4, 3.2)
    pat = b.pattern
    floor_tex = {"kitchen": "tiles", "office": "noise"}.get(rtype, "wood")
    if b.cfg.name == "shift" or rng.uniform() < 0.3:
        floor_tex = pat()
    fcol = b.choice(("brown", "beige", "gray", "white")) if floor_tex != "noise" else b.choice(("gray", "blue", "beige"))
    fl = b.mat(fcol, floor_tex, scale=float(rng.uniform(0.2, 0.6)), specular=0.15)
    b.part("box", (W + 0.4, 0.1, D + 0.4), (0, -0.05, 0), fl, "floor")
    b.part("box", (W + 0.4, 0.1, D + 0.4), (0, H + 0.05, 0), b.mat("white", jitter=0.03), "ceiling")
    wall_tex = "flat" if rng.uniform() < 0.6 else (pat() if b.cfg.name == "shift" else b.choice(("stripes", "noise", "brick")))
    # most walls are white, beige or grey; a quarter are painted
    wcol = b.choice(("white", "white", "white", "beige", "beige", "gray", "teal", "pink", "yellow", "blue", "green"))
    wm = b.mat(wcol, wall_tex, color2=tuple(float(c) * 0.85 for c in named(wcol)), scale=float(rng.uniform(0.1, 0.4)),
               jitter=0.04)
    # walls: 0 = back (z=-D/2), 1 = front (z=+D/2), 2 = left (x=-W/2), 3 = right (x=+W/2)
    walls = [((0, H / 2, -D / 2 - 0.05), (W + 0.2, H, 0.1), 0.0), ((0, H / 2, D / 2 + 0.05), (W + 0.2, H, 0.1), 180.0),
             ((-W / 2 - 0.05, H / 2, 0), (0.1, H, D + 0.2), 90.0), ((W / 2 + 0.05, H / 2, 0), (0.1, H, D + 0.2), -90.0)]
    for pos, size, _ in walls:
        b.part("box", size, pos, wm, "wall")
    # skirting boards
    # per wall: inward normal (x, z) and tangent (x, z), as rot_y(yaw) @ (0, 0, 1) and @ (1, 0, 0)
    wall_axes = [(Yaw(yaw).along_z(1.0), Yaw(yaw).along_x(1.0)) for _, _, yaw in walls]
    for k, (pos, size, yaw) in enumerate(walls):
        (nx, nz), _ = wall_axes[k]
        length = W if k < 2 else D
        b.part("box", (length, 0.08, 0.02), (pos[0] + nx * 0.06, 0.04, pos[2] + nz * 0.06),
               b.mat("white", jitter=0.03), "wall", yaw=yaw)

    def on_wall(k, u, y, w, h, depth):
        pos, _, yaw = walls[k]
        (nx, nz), (tx, tz) = wall_axes[k]
        a = 0.05 + depth / 2
        return (pos[0] + nx * a + tx * u, y, pos[2] + nz * a + tz * u), yaw

    # door
    dk = int(rng.integers(4))
    span = (W if dk < 2 else D) / 2 - 0.7
    du = rng.uniform(-span, span)
    dcol = b.choice(("white", "brown", "beige", "gray"))
    dpos, dyaw = on_wall(dk, du, 1.025, 0.9, 2.05, 0.04)
    dinst = b.new_object("door", dcol, (0.9, 2.05, 0.04), dpos, "box")
    b.part("box", (0.9, 2.05, 0.04), dpos, b.mat(dcol, "wood" if dcol in ("brown", "beige") else "flat", scale=0.1),
           "door", dinst, dyaw)
    hpos, _ = on_wall(dk, du + 0.35, 1.0, 0.03, 0.03, 0.12)
    b.part("sphere_lo", (0.06, 0.06, 0.06), hpos, b.mat("gray", specular=0.8, shininess=80), "door", dinst)
    wall_used = {dk: [(du - 0.6, du + 0.6)]}
    # windows (glass panes do not cast shadows: sunlight enters through them)
    n_win = int(rng.choice([0, 1, 1, 2, 2, 3]))
    sun_wall = None
    for _ in range(n_win):
        k = int(rng.integers(4))
        ww, wh = rng.uniform(0.8, 1.8), rng.uniform(0.9, 1.5)
        span = (W if k < 2 else D) / 2 - ww / 2 - 0.2
        if span <= 0:
            continue
        u = rng.uniform(-span, span)
        if any(a - ww / 2 < u < c + ww / 2 for a, c in wall_used.get(k, [])):
            continue
        wall_used.setdefault(k, []).append((u - ww / 2, u + ww / 2))
        y = rng.uniform(0.8, 1.0) + wh / 2
        y = min(y, H - wh / 2 - 0.15)
        inst = b.new_object("window", "white", (ww, wh, 0.08), on_wall(k, u, y, ww, wh, 0.02)[0], "box")
        gp, gyaw = on_wall(k, u, y, ww, wh, 0.01)
        glass = Material(tuple(float(c) for c in (0.75, 0.85, 1.0)), "flat", emissive=2.2, specular=0.0)
        b.part("box", (ww, wh, 0.01), gp, glass, "window", inst, gyaw, caster=False)
        fm = b.mat("white", jitter=0.03, specular=0.2)
        for du_, dy_, sw, sh in ((0, wh / 2, ww + 0.1, 0.06), (0, -wh / 2, ww + 0.16, 0.08),
                                 (-ww / 2, 0, 0.06, wh), (ww / 2, 0, 0.06, wh), (0, 0, 0.04, wh)):
            fp, fyaw = on_wall(k, u + du_, y + dy_, sw, sh, 0.06)
            b.part("box", (sw, sh, 0.06), fp, fm, "window", inst, fyaw)
        sun_wall = (k, walls[k][2]) if sun_wall is None else sun_wall

    # camera first (the furniture keeps clear of it)
    cz = D / 2 - rng.uniform(0.3, min(1.6, D * 0.35))
    cx = rng.uniform(-W / 2 + 0.4, W / 2 - 0.4)
    b.footprints.append((cx, cz, 0.45))
    # np.arctan2, not math.atan2: numpy's differs in the last bit for some arguments
    yaw_c = rng.uniform(-25, 25) + math.degrees(float(np.arctan2(cx, D * 0.6)))  # look into the room
    # never stare at a wall from up close: re-aim at the room centre if the view ray meets a wall < 1.5 m
    fwd_x, fwd_z = -math.sin(math.radians(yaw_c)), -math.cos(math.radians(yaw_c))  # -rot_y(yaw_c)[:, 2]
    tx = ((W / 2 if fwd_x > 0 else -W / 2) - cx) / fwd_x if abs(fwd_x) > 1e-6 else math.inf
    tz = ((D / 2 if fwd_z > 0 else -D / 2) - cz) / fwd_z if abs(fwd_z) > 1e-6 else math.inf
    if min(tx, tz) < 1.5:
        yaw_c = math.degrees(float(np.arctan2(cx, cz))) + rng.uniform(-10, 10)
    fov = float(rng.uniform(30, 100))
    ch = rng.uniform(0.4, min(2.1, H - 0.3))
    # narrow lenses and high cameras look down more, so the view holds the room, not a bare wall
    pitch = rng.uniform(-30, 6) - max(0.0, 60 - fov) * 0.3 - max(0.0, ch - 1.2) * 6
    cam = Camera((cx, ch, cz), float(yaw_c), float(max(pitch, -44.0)),
                 float(rng.uniform(-10, 10) * (rng.uniform() < 0.7)), fov)

    def against_wall(r_depth, width, tries=25):
        for _ in range(tries):
            k = int(rng.choice([0, 0, 2, 3, 1]))
            L = (W if k < 2 else D) / 2 - width / 2 - 0.1
            if L <= 0:
                continue
            u = rng.uniform(-L, L)
            if any(a - width / 2 < u < c + width / 2 for a, c in wall_used.get(k, [])) and k == dk:
                continue
            (px, _, pz), yaw = on_wall(k, u, 0, width, 1, 2 * r_depth)
            r = max(width, 2 * r_depth) / 2
            if b.free(px, pz, r * 0.85):
                b.footprints.append((px, pz, r * 0.85))
                return px, pz, yaw
        return None

    def in_room(r, tries=25):
        for _ in range(tries):
            px, pz = rng.uniform(-W / 2 + r + 0.3, W / 2 - r - 0.3), rng.uniform(-D / 2 + r + 0.3, D / 2 - r - 0.3)
            if b.free(px, pz, r):
                b.footprints.append((px, pz, r))
                return px, pz
        return None

    wood = lambda: b.choice(WOOD_COLORS)
    if rng.uniform() < 0.7:
        rw, rd = rng.uniform(1.2, min(3.0, W - 0.6)), rng.uniform(1.0, min(2.5, D - 0.6))
        rc = b.choice(OBJECT_COLORS)
        rinst = b.new_object("rug", rc, (rw, 0.01, rd), (0, 0.005, rng.uniform(-0.5, 0.5)), "box")
        b.part("box", (rw, 0.012, rd), b.objects[-1].position_world_m,
               b.mat(rc, pat() if rng.uniform() < 0.7 else "noise", color2=b.choice(("white", "beige", "black")),
                     scale=float(rng.uniform(0.1, 0.3))), "rug", rinst, float(rng.choice([0, 90])))
    plan = {
        "living": ["sofa", "table_low", "shelf", "floor_lamp", "chair", "chair", "plant", "cabinet_tv", "painting",
                   "plant", "cabinet"],
        "bedroom": ["bed", "cabinet", "shelf", "chair", "plant", "painting", "floor_lamp", "cabinet", "table_low"],
        "kitchen": ["dining", "cabinet", "cabinet", "cabinet", "shelf", "plant", "painting", "chair"],
        "office": ["desk", "shelf", "shelf", "cabinet", "plant", "floor_lamp", "painting", "desk", "chair"],
        "playroom": ["table_low", "shelf_low", "shelf_low", "chair", "painting", "floor_lamp"],
    }[rtype]
    for item in plan:
        if item == "sofa" and (p := against_wall(0.45, 2.0)):
            sofa(b, p[0], p[1], p[2], rng.uniform(1.6, 2.2), b.choice(("gray", "blue", "beige", "green", "brown", "red")))
        elif item == "bed" and (p := against_wall(1.05, 1.7)):
            (k_x, k_z, yaw) = p
            nx, nz = Yaw(yaw).along_z(1.0)
            bed(b, k_x + nx * 0.55, k_z + nz * 0.55, yaw, rng.uniform(1.0, 1.7), b.choice(OBJECT_COLORS))
        elif item == "table_low" and (p := in_room(0.55)):
            table(b, p[0], p[1], rng.uniform(0, 90), rng.uniform(0.8, 1.2), rng.uniform(0.5, 0.7), rng.uniform(0.38, 0.48),
                  wood(), round_top=rng.uniform() < 0.3)
        elif item == "dining" and (p := in_room(1.1)):
            w, d, yaw = rng.uniform(1.2, 1.8), rng.uniform(0.8, 1.0), float(rng.uniform(-20, 20))
            table(b, p[0], p[1], yaw, w, d, 0.75, wood(), round_top=rng.uniform() < 0.25)
            turn = Yaw(yaw)
            ccol = wood() if rng.uniform() < 0.6 else b.choice(OBJECT_COLORS)
            for sx, sz, a in ((0, d / 2 + 0.3, 180), (0, -d / 2 - 0.3, 0), (w / 2 + 0.3, 0, 90), (-w / 2 - 0.3, 0, -90)):
                if rng.uniform() < 0.75:
                    ox, oz = turn.offset(sx * 0.9 if sz else sx, sz)
                    chair(b, p[0] + ox, p[1] + oz, yaw + a + rng.uniform(-15, 15), ccol)
        elif item == "desk" and (p := against_wall(0.35, 1.4)):
            table(b, p[0], p[1], p[2], rng.uniform(1.1, 1.6), 0.7, 0.74, wood())
            nx, nz = Yaw(p[2]).along_z(1.0)
            if rng.uniform() < 0.8:
                chair(b, p[0] + nx * 0.7, p[1] + nz * 0.7, p[2] + 180 + rng.uniform(-30, 30), b.choice(OBJECT_COLORS))
            monitor(b, p[0] - nx * 0.15, p[1] - nz * 0.15, 0.74, p[2], len(b.objects) - (1 if b.objects[-1].class_name == "chair" else 0))
        elif item == "cabinet" and (p := against_wall(0.3, 1.0)):
            cabinet(b, p[0], p[1], p[2], rng.uniform(0.8, 1.6), 0.5, rng.uniform(0.6, 0.95), wood())
        elif item == "cabinet_tv" and (p := against_wall(0.25, 1.4)):
            cid = cabinet(b, p[0], p[1], p[2], rng.uniform(1.2, 1.8), 0.45, 0.5, wood())
            b.surfaces.pop()
            tv(b, p[0], p[1], 0.5, p[2], cid)
        elif item in ("shelf", "shelf_low") and (p := against_wall(0.2, 1.2)):
            h = rng.uniform(1.2, 2.1) if item == "shelf" else rng.uniform(0.6, 1.0)
            shelf(b, p[0], p[1], p[2], rng.uniform(0.7, 1.4), min(h, H - 0.2), wood() if rng.uniform() < 0.7 else "white")
        elif item == "floor_lamp" and (p := in_room(0.25)):
            floor_lamp(b, p[0], p[1])
        elif item == "chair" and (p := in_room(0.3)):
            chair(b, p[0], p[1], rng.uniform(0, 360), b.choice(OBJECT_COLORS))
        elif item == "plant" and (p := in_room(0.3)):
            plant(b, p[0], p[1], 0.0, rng.uniform(0.8, 1.6))
        elif item == "painting":
            for _ in range(int(rng.integers(1, 3))):
                k = int(rng.integers(4))
                pw, ph = rng.uniform(0.4, 1.2), rng.uniform(0.4, 0.9)
                L = (W if k < 2 else D) / 2 - pw
                if L <= 0 or any(a - pw < u < c + pw for u in [0] for a, c in wall_used.get(k, [])):
                    continue
                u = rng.uniform(-L, L)
                if any(a - pw / 2 < u < c + pw / 2 for a, c in wall_used.get(k, [])):
                    continue
                wall_used.setdefault(k, []).append((u - pw / 2, u + pw / 2))
                pp, pyaw = on_wall(k, u, rng.uniform(1.4, min(1.8, H - 0.6)), pw, ph, 0.03)
                inst = b.new_object("painting", "white", (pw, ph, 0.03), pp, "box")
                b.part("box", (pw, ph, 0.03), pp, Material(named(b.choice(("black", "brown", "white", "yellow"))),
                       "flat", specular=0.2), "painting", inst, pyaw)
                fp, _ = on_wall(k, u, pp[1], pw, ph, 0.062)
                b.part("quad", (pw - 0.06, ph - 0.06, 1), fp, Material((1, 1, 1), "image", image=int(rng.integers(24))),
                       "painting", inst, pyaw)
    # the room's toys and floor clutter
    n_floor = int(rng.integers(2, 6)) + (6 if rtype == "playroom" else 0)
    for _ in range(n_floor):
        if (p := in_room(0.15, tries=8)) is not None:
            small_object(b, p[0], p[1], 0.0, None, max_size=0.35)
    clutter_surfaces(b, 1.6 if rtype != "playroom" else 2.0)
    # light: ceiling lamp(s), optional sun through a window
    for _ in range(int(rng.integers(1, 3)) if sum(L.kind == "point" for L in b.lights) < 2 else 1):
        ceiling_lamp(b, rng.uniform(-W / 4, W / 4), rng.uniform(-D / 4, D / 4), H)
    env = Environment(ambient_up=(0.13, 0.125, 0.12), ambient_down=(0.07, 0.06, 0.05), exposure=float(rng.uniform(0.8, 1.2)))
    if sun_wall is not None and rng.uniform() < 0.85:
        k, yaw = sun_wall
        inward = rot_y(yaw) @ np.array([0, 0, 1.0])
        el = np.deg2rad(rng.uniform(*b.cfg.sun_elevation_deg))
        side = rot_y(yaw) @ np.array([1.0, 0, 0]) * rng.uniform(-0.6, 0.6)
        d = inward * np.cos(el) + side - np.array([0, np.sin(el) * 1.0, 0])
        d /= np.linalg.norm(d)
        sc = (1.0, 0.55, 0.3) if b.cfg.light_mode == "colored" else (1.0, 0.95, 0.85)
        b.lights.append(Light("sun", sc, float(rng.uniform(2.5, 4.0)), direction=tuple(float(v) for v in d)))
    if b.cfg.light_mode == "colored":
        env.ambient_up = tuple(c * 0.13 for c in light_color(b))
    return cam, env


def monitor(b: Builder, x, z, y, yaw, support):
    inst = b.new_object("tv", "black", (0.6, 0.4, 0.05), (x, y + 0.28, z), "compound", support)
    b.part("box", (0.6, 0.36, 0.03), (x, y + 0.3, z), b.mat("black", specular=0.5, shininess=60), "tv", inst, yaw)
    nx, nz = Yaw(yaw).along_z(1.0)
    b.part("quad", (0.56, 0.32, 1), (x + nx * 0.016, y + 0.3, z + nz * 0.016),
           Material((1, 1, 1), "image", emissive=0.8, image=int(b.rng.integers(24))), "tv", inst, yaw, caster=False)
    b.part("box", (0.05, 0.12, 0.05), (x - nx * 0.03, y + 0.06, z - nz * 0.03), b.mat("black"), "tv", inst, yaw)


def tv(b: Builder, x, z, y, yaw, support):
    w = b.rng.uniform(0.9, 1.4)
    h = w * 0.58
    inst = b.new_object("tv", "black", (w, h, 0.06), (x, y + 0.1 + h / 2, z), "compound", support)
    b.part("box", (w, h, 0.05), (x, y + 0.1 + h / 2, z), b.mat("black", specular=0.6, shininess=80), "tv", inst, yaw)
    nx, nz = Yaw(yaw).along_z(1.0)
    on = b.rng.uniform() < 0.6
    b.part("quad", (w - 0.04, h - 0.04, 1), (x + nx * 0.026, y + 0.1 + h / 2, z + nz * 0.026),
           Material((1, 1, 1) if on else (0.02, 0.02, 0.03), "image" if on else "flat", emissive=0.9 if on else 0.0,
                    specular=0.8, shininess=100, image=int(b.rng.integers(24))), "tv", inst, yaw, caster=False)
    b.part("box", (0.3, 0.1, 0.2), (x, y + 0.05, z), b.mat("black"), "tv", inst, yaw)
