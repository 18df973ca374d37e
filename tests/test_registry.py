import pytest

from openbanana.registry import Registry


def test_register_get_and_list():
    reg = Registry("thing")

    @reg.register("b")
    def b():
        return 2

    reg.register("a", 1)
    assert reg.get("a") == 1
    assert reg.get("b")() == 2
    assert reg.names() == ["a", "b"]
    assert "a" in reg and "z" not in reg
    assert len(reg) == 2


def test_duplicate_refused_and_miss_lists_keys():
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 2)
    with pytest.raises(ValueError, match="expected one of: a"):
        reg.get("nope")
    with pytest.raises(TypeError):
        reg.register("", 3)


def test_unregister_and_a_registration_for_one_block():
    reg = Registry("thing")
    reg.register("a", 1)
    assert reg.unregister("a") == 1 and "a" not in reg
    with pytest.raises(ValueError, match="unknown thing"):
        reg.unregister("a")
    with reg.registered("b", 2) as item:
        assert item == 2 and reg.get("b") == 2
    assert "b" not in reg
    with pytest.raises(RuntimeError), reg.registered("c", 3):
        raise RuntimeError("the block failed")
    assert "c" not in reg  # removed even when the block raises
