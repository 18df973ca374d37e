"""Classes, palette, splits (what shift holds out), metric scale and camera ranges."""

import numpy as np
import pytest

from openbanana.data.synthetic import CLASS_COLORS, CLASSES, SPLITS, sample_world
from openbanana.data.synthetic.materials import HELD_OUT_TEXTURES, TEXTURES
from openbanana.data.synthetic.shapes import HELD_OUT_SHAPES, template, template_names
from openbanana.data.synthetic.splits import SPLIT_CONFIGS, first_draw, scene_rng


def test_classes_and_palette():
    assert len(CLASSES) >= 20 and len(set(CLASSES)) == len(CLASSES)
    for name in ("floor", "wall", "ceiling", "door", "window", "table", "chair", "sofa", "bed", "shelf", "lamp",
                 "ball", "bottle", "cup", "box", "plant", "road", "sidewalk", "building", "car", "tree", "pole",
                 "person", "sky"):
        assert name in CLASSES
    assert CLASS_COLORS.shape == (len(CLASSES), 3) and CLASS_COLORS.dtype == np.uint8
    d = np.abs(CLASS_COLORS[:, None].astype(int) - CLASS_COLORS[None].astype(int)).sum(-1)
    assert d[~np.eye(len(CLASSES), dtype=bool)].min() >= 30  # distinct
    cityscapes = {"road": (128, 64, 128), "sidewalk": (244, 35, 232), "building": (70, 70, 70), "car": (0, 0, 142),
                  "person": (220, 20, 60), "sky": (70, 130, 180), "pole": (153, 153, 153), "tree": (107, 142, 35)}
    for k, c in cityscapes.items():
        assert tuple(CLASS_COLORS[CLASSES.index(k)]) == c


def test_templates_are_valid_meshes():
    for name in template_names():
        t = template(name)
        assert t.faces.min() >= 0 and t.faces.max() < len(t.vertices)
        np.testing.assert_allclose(np.linalg.norm(t.corner_normals, axis=-1), 1.0, atol=1e-5)
        assert np.abs(t.vertices).max() <= 0.7


def _inventory(split, seeds):
    shapes, textures, rooms, lights = set(), set(), set(), []
    for s in seeds:
        w = sample_world(s, split)
        shapes |= {p.shape for p in w.parts}
        textures |= {p.material.texture for p in w.parts}
        rooms.add(w.room_type)
        lights += [lt for lt in w.lights]
    return shapes, textures, rooms, lights


def test_shift_holds_out_shapes_textures_rooms_and_lighting():
    tr_shapes, tr_tex, tr_rooms, tr_lights = _inventory("train", range(40))
    va_shapes, va_tex, va_rooms, _ = _inventory("val", range(20))
    sh_shapes, sh_tex, sh_rooms, sh_lights = _inventory("shift", range(30))
    assert not (tr_shapes | va_shapes) & HELD_OUT_SHAPES
    assert not (tr_tex | va_tex) & HELD_OUT_TEXTURES
    assert not (tr_rooms | va_rooms) & set(SPLIT_CONFIGS["shift"].indoor_types + SPLIT_CONFIGS["shift"].outdoor_types)
    assert sh_shapes & HELD_OUT_SHAPES and sh_tex & HELD_OUT_TEXTURES
    assert sh_rooms == {"playroom", "plaza"}
    # shift patterns: only held-out textures, plus class-defining facade/grass and image/flat
    assert sh_tex <= HELD_OUT_TEXTURES | {"flat", "noise", "facade", "grass", "image"}
    assert not sh_tex & {"checker", "stripes", "wood", "tiles", "brick"}
    # lighting: train suns are high daylight, shift suns low at dusk
    el = lambda L: np.degrees(np.arcsin(-L.direction[1]))
    tr_sun = [el(L) for L in tr_lights if L.kind == "sun" and L.color[2] > 0.6]
    sh_sun = [el(L) for L in sh_lights if L.kind == "sun"]
    assert tr_sun and sh_sun and min(tr_sun) > 13 and max(sh_sun) < 13


def test_metric_scale_of_rooms_and_streets():
    for s in range(20):
        w = sample_world(s, "train")
        cam_h = w.camera.position_m[1]
        assert 30 <= w.camera.fov_deg <= 100 and -45 <= w.camera.pitch_deg <= 10 and abs(w.camera.roll_deg) <= 10
        if w.kind == "indoor":
            assert 0.3 <= cam_h <= 2.5
            doors = [o for o in w.objects if o.class_name == "door"]
            assert doors and all(abs(o.size_m[1] - 2.05) < 1e-6 for o in doors)
            chairs = [o for o in w.objects if o.class_name == "chair"]
            assert all(0.8 < o.size_m[1] < 1.0 for o in chairs)
        else:
            cars = [o for o in w.objects if o.class_name == "car"]
            assert all(3.5 < o.size_m[2] < 5.0 for o in cars)
            people = [o for o in w.objects if o.class_name == "person"]
            assert all(1.5 < o.size_m[1] < 2.0 for o in people)


def test_splits_listed():
    assert SPLITS == ("train", "val", "shift") and set(TEXTURES) >= HELD_OUT_TEXTURES


@pytest.mark.parametrize("split", SPLITS)
def test_objects_rest_on_something(split):
    # nothing floats: every object's lowest point is at the floor or on its support's top
    for s in range(6):
        w = sample_world(s, split)
        by_id = {o.instance_id: o for o in w.objects}
        for o in w.objects:
            if o.class_name in ("window", "painting", "door", "sign", "lamp", "tv"):
                continue
            if o.support is None:
                continue
            sup = by_id[o.support]
            top = sup.position_world_m[1] + sup.size_m[1] / 2
            bottom = o.position_world_m[1] - o.size_m[1] / 2
            if sup.class_name == "shelf":  # any board of the shelf
                assert 0.0 < bottom < top + 1e-6, (s, o.class_name)
            else:
                assert abs(bottom - top) < 0.02, (s, o.class_name, sup.class_name)


def test_first_draw_gives_the_bounded_draws_of_a_fresh_stream():
    for split in SPLITS:
        for seed in [*range(200), 2**40 + 7, 10**12]:
            word = first_draw(seed, split)
            assert word >> 2 == scene_rng(seed, split).integers(2**62)
            assert (word & 0xFFFFFFFF) >> 2 == scene_rng(seed, split).integers(1 << 30)
    assert first_draw(np.int64(5), "val") == first_draw(5, "val")
    for bad in (True, -1, 1.0):
        with pytest.raises(TypeError):
            first_draw(bad, "train")
    with pytest.raises(ValueError):
        first_draw(1, "test")
