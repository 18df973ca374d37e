"""Edit targets differ from sources only where the instruction says."""

import pytest

from openbanana.data.synthetic import EDIT_KINDS, make_edit
from openbanana.data.synthetic.language import resolve


@pytest.mark.parametrize("kind", EDIT_KINDS)
def test_edit_changes_only_inside_its_mask(kind):
    seen = 0
    for seed in range(6):
        e = make_edit(seed, size=64, kind=kind)
        diff = (e.source != e.target).any(-1)
        assert not (diff & ~e.changed_mask).any(), (seed, e.instruction)
        assert e.source.shape == e.target.shape == (64, 64, 3) and e.changed_mask.dtype == bool
        if e.kind != kind:
            continue  # no valid object for this kind in this scene: fell back
        seen += 1
        assert diff.any(), e.instruction
        src, tgt = e.source_scene, e.target_scene
        if kind == "light":
            for k in ("depth_m", "normals", "semantic", "instance"):
                assert getattr(src, k).tobytes() == getattr(tgt, k).tobytes()  # shading only
        else:
            if kind == "recolor":
                assert tgt.object(e.instance_id).color_name in e.instruction
                assert (src.instance == tgt.instance).all() and (src.depth_m == tgt.depth_m).all()
            if kind == "remove":
                assert not (tgt.instance == e.instance_id).any() and (src.instance == e.instance_id).any()
                expr = e.instruction.split(" ", 1)[1] if not e.instruction.startswith("take away") else \
                    e.instruction[len("take away "):]
                assert resolve(expr, src) == [e.instance_id], e.instruction
            if kind == "move":
                assert (tgt.instance == e.instance_id).any()
                assert (src.instance == e.instance_id).tobytes() != (tgt.instance == e.instance_id).tobytes()
            if kind == "add":
                assert (tgt.instance == e.instance_id).any() and not (src.instance == e.instance_id).any()
            # outside the mask, labels are untouched too
            keep = ~e.changed_mask
            assert (src.semantic[keep] == tgt.semantic[keep]).all()
    assert seen >= 1, kind


def test_recolor_names_a_resolvable_object():
    for seed in range(6):
        e = make_edit(seed, size=64, kind="recolor")
        if e.kind != "recolor":
            continue
        new = e.target_scene.object(e.instance_id).color_name
        text = e.instruction
        for prefix in ("make ", "paint ", "change the colour of "):
            text = text.removeprefix(prefix)
        expr = text.rsplit(" to ", 1)[0] if " to " in text else text.rsplit(" ", 1)[0]
        assert resolve(expr, e.source_scene) == [e.instance_id], e.instruction
        assert new in e.instruction
        return
    pytest.skip("no recolourable object in the first scenes")


def test_unknown_edit_kind_raises():
    with pytest.raises(ValueError):
        make_edit(0, kind="explode")
