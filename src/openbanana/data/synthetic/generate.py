"""From a seed to a finished Scene: sample the world, render it, measure objects, add language."""

from __future__ import annotations

from openbanana.data.synthetic.finish import finish_scene, parse_size
from openbanana.data.synthetic.gpu import render_batch
from openbanana.data.synthetic.render import render_spec
from openbanana.data.synthetic.scene import Scene, WorldSpec
from openbanana.data.synthetic.world import sample_world


def scene_from_spec(spec: WorldSpec, size, *, language: bool = True, aux: bool = True,
                    **render_kw) -> tuple[Scene, dict]:
    """Render ``spec`` and finish its Scene; also the render's dict, with the per-sample facts edit
    masks need when ``aux`` (``render_spec(return_aux=True)``; about 0.6 ms of a 128 px scene)."""
    H, W = parse_size(size)
    out = render_spec(spec, H, W, return_aux=aux, **render_kw)
    scene = Scene(out["rgb"], out["depth_m"], out["normals"], out["semantic"], out["instance"], spec.objects,
                  spec.camera, spec.kind, spec.split, spec.seed, spec.room_type, spec=spec)
    finish_scene(scene, language)
    return scene, out


def render_scene(seed: int, *, split: str = "train", size=128, device: str = "cpu", language: bool = True) -> Scene:
    """Render scene ``seed`` of ``split`` with exact ground truth and language.

    Args:
        seed: non-negative int; the same (seed, split, size) always gives the same bytes.
        split: "train", "val" or "shift" (held-out shapes, textures, lighting and room types).
        size: int or (H, W) in pixels.
        device: "cpu" (Embree) or a torch device such as "cuda" (batched torch renderer; see
            render_batch for throughput).
        language: also build caption, referring expressions and reasoning queries.
    Returns:
        Scene (see openbanana.data.synthetic.scene.Scene for shapes, units and frames).
    """
    if device != "cpu":
        return render_batch([seed], split=split, size=size, device=device, language=language)[0]
    spec = sample_world(seed, split)
    return scene_from_spec(spec, size, language=language, aux=False)[0]
