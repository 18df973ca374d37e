import pytest

from openbanana.data.synthetic.materials import Material
from openbanana.data.synthetic.scene import Camera, Environment, Light, Part, SceneObject, WorldSpec


def make_spec(parts, objects=(), lights=None, camera=None, kind="indoor"):
    cam = camera or Camera((0.0, 0.0, 0.0), 0.0, 0.0, 0.0, 60.0)
    lights = lights if lights is not None else [Light("sun", (1.0, 1.0, 1.0), 3.0, direction=(0.3, -1.0, -0.2))]
    return WorldSpec(0, "train", kind, "test", list(parts), list(objects), list(lights), cam, Environment())


def part(shape, size, pos, cls="box", inst=1, yaw=0.0, tilt=None, color=(0.8, 0.2, 0.2), texture="flat", caster=True):
    return Part(shape, tuple(size), tuple(pos), yaw, tilt, Material(color, texture), cls, inst, caster)


def obj(inst, cls, color="red", pos=(0, 0, -3), size=(1, 1, 1)):
    from openbanana.data.synthetic.materials import COLOR_NAMES

    return SceneObject(inst, cls, color, COLOR_NAMES[color], size, pos)


@pytest.fixture
def spec_factory():
    return make_spec


@pytest.fixture
def part_factory():
    return part


@pytest.fixture
def obj_factory():
    return obj
