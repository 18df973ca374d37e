"""Scene sampling: believable rooms and streets at metric scale, from a seed.

``sample_world(seed, split)`` returns a :class:`WorldSpec` (parts, objects, lights, camera,
environment). Rooms (``indoor.py``) and streets (``outdoor.py``) are built from compound objects of
template shapes; small objects stand on tables, shelves, counters or the floor; nothing floats.
"""

from __future__ import annotations

from openbanana.data.synthetic.builder import (  # noqa: F401 - re-exported for edits and tests
    MAX_SHADOWED,
    OBJECT_COLORS,
    SHIFT_TEXTURE,
    WOOD_COLORS,
    Builder,
    FastRng,
)
from openbanana.data.synthetic.indoor import room, small_object  # noqa: F401
from openbanana.data.synthetic.outdoor import person, street  # noqa: F401
from openbanana.data.synthetic.scene import WorldSpec
from openbanana.data.synthetic.splits import first_draw, split_config


def sample_world(seed: int, split: str = "train") -> WorldSpec:
    """Sample the scene description of ``seed`` in ``split`` (deterministic).

    Args:
        seed: non-negative int. split: one of SPLITS.
    Returns:
        WorldSpec with world-frame parts, objects, lights, camera and environment.
    """
    cfg = split_config(split)
    rng = FastRng(first_draw(seed, split) >> 2)  # scene_rng(seed, split).integers(2**62)
    b = Builder(rng, cfg)
    if rng.uniform() < cfg.indoor_share:
        kind, rtype = "indoor", b.choice(cfg.indoor_types)
        cam, env = room(b, rtype)
    else:
        kind, rtype = "outdoor", b.choice(cfg.outdoor_types)
        cam, env = street(b, plaza=rtype == "plaza")
    # shadows of the MAX_SHADOWED strongest lights (the sun first); weaker lamps are fill lights
    order = sorted(range(len(b.lights)), key=lambda i: (b.lights[i].kind != "sun", -b.lights[i].intensity))
    for rank, i in enumerate(order):
        b.lights[i].shadows = rank < MAX_SHADOWED
    return WorldSpec(int(seed), split, kind, rtype, b.parts, b.objects, b.lights, cam, env)
