"""A procedural 3D world with exact ground truth: rooms and streets at metric scale, rendered
by ray casting (Embree), with depth, normals, semantic and instance labels, object metadata,
captions, referring expressions, reasoning queries and edits.

    from openbanana.data.synthetic import render_scene, make_edit
    scene = render_scene(0, split="train", size=128)
    scene.rgb, scene.depth_m, scene.normals, scene.semantic, scene.instance, scene.referring
"""

from openbanana.data.synthetic import gpu
from openbanana.data.synthetic.classes import CLASS_COLORS, CLASSES, IGNORE, THING_CLASSES
from openbanana.data.synthetic.edits import EDIT_KINDS, make_edit
from openbanana.data.synthetic.generate import render_scene
from openbanana.data.synthetic.language import resolve
from openbanana.data.synthetic.scene import Camera, Edit, Scene, SceneObject, WorldSpec
from openbanana.data.synthetic.splits import SPLITS
from openbanana.data.synthetic.world import sample_world


def render_batch(seeds, *, split: str = "train", size=128, device: str = "cuda", language: bool = True):
    """Render many scenes at once with the torch renderer (GPU); see ``gpu.render_batch``."""
    return gpu.render_batch(seeds, split=split, size=size, device=device, language=language)


__all__ = [
    "CLASSES",
    "CLASS_COLORS",
    "EDIT_KINDS",
    "IGNORE",
    "SPLITS",
    "THING_CLASSES",
    "Camera",
    "Edit",
    "Scene",
    "SceneObject",
    "WorldSpec",
    "make_edit",
    "render_batch",
    "render_scene",
    "resolve",
    "sample_world",
]
