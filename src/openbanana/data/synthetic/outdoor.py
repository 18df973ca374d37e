"""Outdoor streets and plazas: road, kerbs, sidewalks, building rows, cars, people, trees, street
lamps, signs and benches; sun, sky and fog."""

from __future__ import annotations

import math

import numpy as np

from openbanana.data.synthetic.builder import OBJECT_COLORS, Builder, Yaw
from openbanana.data.synthetic.materials import Material
from openbanana.data.synthetic.scene import Camera, Environment, Light, rot_x, rot_z

# fixed tilts, built once; every part gets its own copy
_X90 = rot_x(90)
_Z90 = rot_z(90)
_BACKREST_TILT = rot_x(-10)
_ARM_TILT = {-1: rot_z(-8), 1: rot_z(8)}


def car(b: Builder, x, z, yaw, color):
    L, Wd = b.rng.uniform(3.8, 4.8), b.rng.uniform(1.7, 1.9)
    inst = b.new_object("car", color, (Wd, 1.5, L), (x, 0.75, z), "compound", rolls=True)
    paint = b.mat(color, specular=0.7, shininess=90, jitter=0.05)
    glass = b.mat("black", specular=0.9, shininess=120)
    turn = Yaw(yaw)
    b.part("box", (Wd, 0.62, L), (x, 0.62, z), paint, "car", inst, yaw)
    ox, oz = turn.along_z(-0.1 * L)
    b.part("cabin", (Wd * 0.98, 0.55, L * 0.55), (x + ox, 1.2, z + oz), glass, "car", inst, yaw)
    b.part("box", (Wd * 0.6, 0.04, L * 0.35), (x + ox, 1.49, z + oz), paint, "car", inst, yaw)
    tire = b.mat("black", specular=0.05)
    for sx in (-1, 1):
        for sz in (-1, 1):
            ox, oz = turn.offset(sx * (Wd / 2 - 0.1), sz * (L / 2 - 0.75))  # cap 2 cm proud of the body
            b.part("cylinder_lo", (0.66, 0.24, 0.66), (x + ox, 0.33, z + oz), tire, "car", inst, yaw,
                   tilt=_Z90.copy())
    for sx in (-1, 1):
        ox, oz = turn.offset(sx * (Wd / 2 - 0.25), -L / 2)
        b.part("box", (0.3, 0.12, 0.04), (x + ox, 0.75, z + oz), Material((1, 0.95, 0.8), emissive=1.5),
               "car", inst, yaw)
    b.footprints.append((x, z, L / 2))
    return inst


def person(b: Builder, x, z, yaw):
    h = b.rng.uniform(1.55, 1.9)
    shirt = b.choice(OBJECT_COLORS)
    pants = b.choice(("blue", "black", "gray", "brown", "beige"))
    tone = b.rng.uniform(0.45, 1.1)
    skin = (0.85 * tone, 0.65 * tone, 0.5 * tone)
    inst = b.new_object("person", shirt, (0.5, h, 0.3), (x, h / 2, z), "compound")
    turn = Yaw(yaw)
    leg = 0.47 * h
    for sx in (-1, 1):
        ox, oz = turn.along_x(sx * 0.09)
        b.part("capsule", (0.26, leg, 0.26), (x + ox, leg / 2, z + oz), b.mat(pants), "person", inst, yaw)
    b.part("capsule", (0.62, 0.36 * h, 0.42), (x, leg + 0.16 * h, z), b.mat(shirt, "flat" if b.rng.uniform() < 0.7 else "stripes", color2="white", scale=0.05), "person", inst, yaw)
    for sx in (-1, 1):
        ox, oz = turn.along_x(sx * 0.24)
        b.part("capsule", (0.17, 0.36 * h, 0.17), (x + ox, leg + 0.14 * h, z + oz), b.mat(shirt), "person", inst, yaw,
               tilt=_ARM_TILT[sx].copy())
    b.part("sphere", (0.2, 0.24, 0.22), (x, h - 0.12, z), Material(skin, specular=0.1), "person", inst, yaw)
    b.part("sphere_lo", (0.21, 0.12, 0.22), (x, h - 0.06, z), b.mat(b.choice(("black", "brown", "yellow", "gray"))), "person",
           inst, yaw)
    return inst


def tree(b: Builder, x, z):
    h = b.rng.uniform(4.0, 9.0)
    inst = b.new_object("tree", "green", (h * 0.5, h, h * 0.5), (x, h / 2, z), "compound")
    bark = b.mat("brown", "noise", scale=0.3, color2="black")
    tr = h * 0.035
    leaf = b.mat("green", "noise", color2=(0.05, 0.2, 0.03), scale=0.4)
    if b.rng.uniform() < 0.7:
        b.part("cylinder", (2 * tr, h * 0.6, 2 * tr), (x, h * 0.3, z), bark, "tree", inst)
        for k in range(int(b.rng.integers(1, 4))):
            s = h * b.rng.uniform(0.3, 0.5)
            o = [b.rng.uniform(-0.15, 0.15) * h for _ in range(3)]
            b.part(f"blob{int(b.rng.integers(3))}", (s, s * 0.9, s), (x + o[0], h * 0.68 + o[1] * 0.5, z + o[2]), leaf,
                   "tree", inst, yaw=b.rng.uniform(0, 360))
    else:
        b.part("cylinder", (2 * tr, h * 0.3, 2 * tr), (x, h * 0.15, z), bark, "tree", inst)
        for k in range(3):
            s = h * (0.42 - 0.1 * k)
            b.part("cone", (s, h * 0.4, s), (x, h * (0.4 + 0.18 * k), z), leaf, "tree", inst)
    b.footprints.append((x, z, 0.5))
    return inst


def street_lamp(b: Builder, x, z, arm_dir):
    h = b.rng.uniform(5.0, 8.0)
    inst = b.new_object("pole", "gray", (0.2, h, 0.2), (x, h / 2, z), "compound")
    m = b.mat(b.choice(("gray", "black", "green")), specular=0.4)
    b.part("cylinder", (0.16, h, 0.16), (x, h / 2, z), m, "pole", inst)
    b.part("box", (1.4, 0.08, 0.08), (x + arm_dir * 0.7, h - 0.1, z), m, "pole", inst)
    b.part("box", (0.45, 0.12, 0.25), (x + arm_dir * 1.35, h - 0.16, z), m, "pole", inst)
    return inst


def sign_post(b: Builder, x, z, yaw):
    inst = b.new_object("pole", "gray", (0.1, 2.6, 0.1), (x, 1.3, z), "compound")
    b.part("cylinder_lo", (0.07, 2.5, 0.07), (x, 1.25, z), b.mat("gray", specular=0.5), "pole", inst)
    col = b.choice(("red", "blue", "yellow", "white"))
    sid = b.new_object("sign", col, (0.6, 0.6, 0.03), (x, 2.4, z), "box", support=inst)
    shape = "cylinder" if b.rng.uniform() < 0.5 else "box"
    if shape == "cylinder":
        b.part("cylinder", (0.6, 0.03, 0.6), (x, 2.4, z), b.mat(col, specular=0.3), "sign", sid, yaw,
               tilt=_X90.copy())
    else:
        b.part("box", (0.6, 0.6, 0.03), (x, 2.4, z), b.mat(col, specular=0.3), "sign", sid, yaw)
    return inst


def bench(b: Builder, x, z, yaw):
    col = b.choice(("brown", "green", "black", "gray"))
    inst = b.new_object("bench", col, (1.6, 0.85, 0.55), (x, 0.42, z), "compound")
    m = b.mat(col, "wood" if col == "brown" else "flat", scale=0.08)
    turn = Yaw(yaw)
    b.part("box", (1.6, 0.05, 0.45), (x, 0.45, z), m, "bench", inst, yaw)
    ox, oz = turn.along_z(-0.22)
    b.part("box", (1.6, 0.35, 0.04), (x + ox, 0.68, z + oz), m, "bench", inst, yaw, tilt=_BACKREST_TILT.copy())
    for sx in (-1, 1):
        ox, oz = turn.along_x(sx * 0.7)
        b.part("box", (0.06, 0.45, 0.45), (x + ox, 0.225, z + oz), b.mat("black"), "bench", inst, yaw)
    return inst


def building_row(b: Builder, side: float, x0: float, z_from: float, z_to: float, plaza=False):
    z = z_from
    while z > z_to:
        w = b.rng.uniform(6, 18)
        h = b.rng.uniform(6, 30)
        d = b.rng.uniform(8, 14)
        col = b.choice(("beige", "white", "gray", "brown", "orange", "pink", "yellow", "teal"))
        tex = "facade" if (not plaza or b.rng.uniform() < 0.7) else b.pattern()
        m = b.mat(col, tex, color2=(0.05, 0.07, 0.1), scale=float(b.rng.uniform(2.8, 3.8)), jitter=0.1, specular=0.05)
        b.part("box", (d, h, w - 0.2), (x0 + side * d / 2, h / 2, z - w / 2), m, "building")
        b.part("box", (d + 0.3, 0.5, w), (x0 + side * d / 2, h + 0.25, z - w / 2), b.mat("gray"), "building")
        z -= w


def street(b: Builder, plaza: bool):
    rng = b.rng
    road_w = rng.uniform(6.0, 12.0)
    walk_w = rng.uniform(2.5, 5.0)
    L = rng.uniform(60, 110)
    pat = b.pattern
    if plaza:
        b.part("box", (80, 0.1, L + 30), (0, -0.05, -L / 2 + 10), b.mat("gray", pat(), color2="beige", scale=1.0), "sidewalk")
        for _ in range(int(rng.integers(2, 5))):
            gx, gz = rng.uniform(-15, 15), rng.uniform(-40, -8)
            gw, gd = rng.uniform(4, 10), rng.uniform(4, 10)
            b.part("box", (gw, 0.12, gd), (gx, 0.01, gz), b.mat("green", "grass", color2=(0.1, 0.25, 0.05), scale=1.0),
                   "terrain")
        edge = 22.0
    else:
        asphalt = b.mat("gray", "noise", color2="black", scale=0.6, jitter=0.1)
        asphalt.color = tuple(float(c) * 0.45 for c in asphalt.color)
        b.part("box", (road_w, 0.1, L + 30), (0, -0.05, -L / 2 + 10), asphalt, "road")
        for zz in np.arange(5, -L, -6.0):
            b.part("box", (0.15, 0.01, 3.0), (0, 0.003, zz), b.mat("white", jitter=0.02), "road")
        walk = b.mat(b.choice(("gray", "beige")), "tiles", scale=float(rng.uniform(0.3, 0.6)), color2="gray")
        for s in (-1, 1):
            b.part("box", (walk_w, 0.15, L + 30), (s * (road_w + walk_w) / 2, 0.075, -L / 2 + 10), walk, "sidewalk")
            b.part("box", (0.2, 0.16, L + 30.2), (s * (road_w / 2 + 0.09), 0.08, -L / 2 + 10), b.mat("gray"), "sidewalk")
        edge = road_w / 2 + walk_w
    for s in (-1, 1):
        building_row(b, s, s * edge, 15.0, -L, plaza)
    b.part("box", (2 * edge + 40, rng.uniform(10, 35), 10), (0, 0, -L - 5), b.mat(b.choice(("beige", "gray", "white")),
           "facade", color2=(0.05, 0.07, 0.1), scale=3.2), "building")
    p = b.parts[-1]
    p.offset = (p.offset[0], p.size_m[1] / 2, p.offset[2])
    # camera
    on_walk = False
    if plaza:
        cx, cz = rng.uniform(-6, 6), rng.uniform(0, 6)
    else:
        on_walk = rng.uniform() < 0.35
        cx = (rng.choice([-1, 1]) * (road_w / 2 + rng.uniform(0.5, walk_w - 0.3))) if on_walk else rng.uniform(-road_w / 3, road_w / 3)
        cz = rng.uniform(0, 6)
    b.footprints.append((cx, cz, 1.0))
    height = float(rng.choice([rng.uniform(1.2, 2.0), rng.uniform(0.5, 6.0)]))
    sideways = not plaza and not on_walk and rng.uniform() < 0.15
    yaw = float(rng.choice([-1, 1]) * rng.uniform(35, 60) if sideways else rng.uniform(-20, 20))
    cam = Camera((cx, height, cz), yaw, float(rng.uniform(-20, 8)), float(rng.uniform(-6, 6) * (rng.uniform() < 0.6)),
                 float(rng.uniform(30, 100)))
    # cars
    if not plaza:
        for _ in range(int(rng.integers(4, 13))):
            lane = rng.choice([-1, 1])
            parked = rng.uniform() < 0.5
            x = lane * (road_w / 2 - 1.2) if parked else lane * road_w / 4
            z = rng.uniform(-L + 8, 3)
            if b.free(x, z, 2.5):
                car(b, x + rng.uniform(-0.2, 0.2), z, 180.0 * (lane > 0) + rng.uniform(-4, 4), b.choice(OBJECT_COLORS + ("gray", "gray", "white")))
    # trees, lamps, signs along the kerbs
    for s in (-1, 1):
        zz = rng.uniform(-6, 4)
        while zz > -L + 5:
            x = s * (road_w / 2 + 0.8) if not plaza else rng.uniform(-18, 18)
            r = rng.uniform()
            if b.free(x, zz, 0.6):
                if r < 0.45:
                    tree(b, x, zz)
                elif r < 0.7:
                    street_lamp(b, x, zz, -s)
                    b.footprints.append((x, zz, 0.4))
                elif r < 0.8:
                    sign_post(b, x, zz, 180.0 * (s > 0) + rng.uniform(-10, 10) + 90 * (rng.uniform() < 0.3))
                    b.footprints.append((x, zz, 0.4))
                elif r < 0.9 or plaza:
                    bench(b, x + s * (0.8 if not plaza else 0), zz, -90.0 * s + rng.uniform(-10, 10) if not plaza else rng.uniform(0, 360))
                    b.footprints.append((x, zz, 0.9))
            zz -= rng.uniform(4, 11)
    # people
    for _ in range(int(rng.integers(3, 13))):
        s = rng.choice([-1, 1])
        x = s * (road_w / 2 + rng.uniform(0.6, walk_w - 0.4)) if not plaza else rng.uniform(-15, 15)
        z = rng.uniform(-35, 2)
        if b.free(x, z, 0.35):
            person(b, x, z, rng.uniform(0, 360))
            b.footprints.append((x, z, 0.35))
    if plaza:
        for _ in range(int(rng.integers(1, 4))):
            x, z = rng.uniform(-10, 10), rng.uniform(-25, -4)
            if b.free(x, z, 1.0):
                shape = b.choice(b.cfg.toy_shapes)
                s = rng.uniform(0.8, 2.0)
                col = b.choice(OBJECT_COLORS)
                inst = b.new_object("toy", col, (s, s, s), (x, 0.9 + s / 2, z), shape)
                b.part("box", (s * 0.7, 0.9, s * 0.7), (x, 0.45, z), b.mat("white", "marble" if "marble" in b.cfg.patterns else "flat", scale=0.5), "toy", inst)
                b.part(shape, (s, s, s), (x, 0.9 + s / 2, z), b.mat(col, specular=0.6, shininess=60), "toy", inst,
                       yaw=rng.uniform(0, 360))
                b.footprints.append((x, z, 1.0))
    # sun and sky
    el = math.radians(rng.uniform(*b.cfg.sun_elevation_deg))
    az = rng.uniform(0, 2 * math.pi)
    d = (-(math.cos(el) * math.cos(az)), -math.sin(el), -(math.cos(el) * math.sin(az)))
    dusk = b.cfg.light_mode == "colored"
    sun_col = (1.0, 0.55, 0.3) if dusk else (1.0, 0.96, 0.88)
    b.lights.append(Light("sun", sun_col, float(rng.uniform(3.0, 4.5)), direction=tuple(float(v) for v in d)))
    overcast = rng.uniform() < 0.2 and not dusk
    if overcast:
        b.lights[-1].intensity *= 0.35
    env = Environment(
        sky_zenith=(0.25, 0.2, 0.45) if dusk else ((0.5, 0.52, 0.55) if overcast else (0.18, 0.38, 0.8)),
        sky_horizon=(1.0, 0.6, 0.35) if dusk else ((0.75, 0.76, 0.78) if overcast else (0.7, 0.8, 0.92)),
        ambient_up=(0.25, 0.22, 0.35) if dusk else ((0.5, 0.5, 0.52) if overcast else (0.3, 0.36, 0.45)),
        ambient_down=(0.15, 0.1, 0.08),
        fog_m=float(rng.uniform(250, 700) if dusk else rng.uniform(150, 500)), exposure=float(rng.uniform(0.85, 1.15)),
        clouds=float(rng.uniform(0.0, 0.8)),
    )
    return cam, env
