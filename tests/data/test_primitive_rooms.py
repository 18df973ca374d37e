"""The second renderer: closed-form hits against hand-computed values, and whole rooms."""

from __future__ import annotations

import numpy as np
import pytest

from openbanana.data import primitive_rooms as pr

O = np.array([[0.0, 1.0, 0.0]])
Z = np.array([[0.0, 0.0, 1.0]])


def test_each_shape_is_hit_where_geometry_says():
    t, n = pr._hit_sphere(O, Z, np.array([0.0, 1.0, 5.0]), 1.0)
    assert t[0] == pytest.approx(4.0) and np.allclose(n[0], [0, 0, -1])
    t, n = pr._hit_box(O, Z, np.array([-1.0, 0.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert t[0] == pytest.approx(2.0) and np.allclose(n[0], [0, 0, -1])
    t, n = pr._hit_cylinder(O, Z, np.array([0.0, 0.0, 5.0]), 1.0, 2.0)  # the side, facing us
    assert t[0] == pytest.approx(4.0) and np.allclose(n[0], [0, 0, -1])
    down = np.array([[0.0, -1.0, 0.0]])
    t, n = pr._hit_cylinder(np.array([[0.2, 3.0, 5.0]]), down, np.array([0.0, 0.0, 5.0]), 1.0, 2.0)  # the cap
    assert t[0] == pytest.approx(1.0) and np.allclose(n[0], [0, 1, 0])
    t, n = pr._hit_room(np.array([[1.0, 1.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]), np.array([4.0, 3.0, 5.0]))
    assert t[0] == pytest.approx(3.0) and np.allclose(n[0], [-1, 0, 0])  # the far x wall, facing in


def test_misses_are_infinite():
    away = -Z
    assert np.isinf(pr._hit_sphere(O, away, np.array([0.0, 1.0, 5.0]), 1.0)[0][0])
    assert np.isinf(pr._hit_box(O, away, np.array([-1.0, 0.0, 2.0]), np.array([1.0, 2.0, 3.0]))[0][0])
    assert np.isinf(pr._hit_cylinder(O, np.array([[1.0, 0.0, 0.0]]), np.array([0.0, 0.0, 5.0]), 1.0, 2.0)[0][0])


def test_nearest_surface_wins():
    objects = [("ball", (np.array([0.0, 1.0, 6.0]), 1.0), np.ones(3)),
               ("box", (np.array([-1.0, 0.0, 3.0]), np.array([1.0, 2.0, 4.0])), np.ones(3))]
    t, n, surface = pr._trace(np.array([0.0, 1.0, 0.5]), Z, np.array([10.0, 3.0, 10.0]), objects)
    assert t[0] == pytest.approx(2.5) and surface[0] == 7  # the box (object 1) before the ball
    assert np.allclose(n[0], [0, 0, -1])


def test_a_room_is_deterministic_and_exact():
    a, b = pr.render_primitive_room(3, size=32), pr.render_primitive_room(3, size=32)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth_m, b.depth_m)
    assert not np.array_equal(a.rgb, pr.render_primitive_room(4, size=32).rgb)
    assert a.rgb.shape == (32, 32, 3) and a.rgb.dtype == np.uint8
    assert a.depth_m.dtype == np.float32 and np.isfinite(a.depth_m).all() and (a.depth_m > 0.1).all()
    assert np.allclose(np.linalg.norm(a.normals, axis=-1), 1, atol=1e-5)
    assert set(np.unique(a.object_ids)) <= set(range(len(a.kinds) + 1))
    assert pr.N_OBJECTS[0] <= len(a.kinds) <= pr.N_OBJECTS[1]
    # the floor (normal straight up in the world) fills the bottom row; seen from above it faces up
    # and toward the viewer in the camera frame
    bottom = a.normals[-1][a.object_ids[-1] == 0]
    assert len(bottom) and (bottom[:, 1] > 0.5).all() and (bottom[:, 2] > 0).all()


def test_too_small_is_refused():
    with pytest.raises(ValueError, match="size must be >= 8"):
        pr.render_primitive_room(0, size=4)
