"""The text-to-image judge: caption labels, the network, agreement scores, training and files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from openbanana.data.synthetic import render_scene
from openbanana.evaluation import prompt_judge as pj

TINY = pj.JudgeConfig(size=16, render_size=32, widths=(8, 16), train_scenes=24, epochs=2, batch_size=8)


@pytest.fixture(scope="module")
def trained():
    return pj.train_judge(TINY)


def test_labels_are_what_the_caption_names():
    for i in range(6):
        scene = render_scene(i, split="val", size=128)
        place, named = pj.prompt_labels(scene)
        assert pj.PLACES[place] in scene.caption.lower()
        names = [c for c, on in zip(pj.OBJECTS, named, strict=True) if on]
        assert 0 < len(names) <= 6
        for c in names:  # each named class is in the caption, singular or plural
            assert re.search(rf"\b{c[:3]}", scene.caption), (c, scene.caption)
    assert set(pj.PLACES) == {"bedroom", "city street", "home office", "kitchen", "living room"}
    assert "window" not in pj.OBJECTS and "chair" in pj.OBJECTS


def test_a_place_the_judge_never_saw_is_refused():
    scene = next(s for s in (render_scene(i, split="shift", size=32) for i in range(8)) if s.room_type == "playroom")
    with pytest.raises(ValueError, match="playroom"):
        pj.prompt_labels(scene)


def test_network_shapes_and_inputs():
    net = pj.JudgeNet(TINY)
    p, o = net(torch.zeros(2, 3, 16, 16))
    assert p.shape == (2, len(pj.PLACES)) and o.shape == (2, len(pj.OBJECTS))
    x = pj.to_input(np.full((1, 32, 32, 3), 255, np.uint8), 16)
    assert x.shape == (1, 3, 16, 16) and torch.allclose(x, torch.ones_like(x))
    with pytest.raises(ValueError, match="uint8"):
        pj.to_input(np.zeros((32, 32, 3), np.uint8), 16)
    red, green = np.zeros((1, 16, 16, 3), np.uint8), np.zeros((1, 16, 16, 3), np.uint8)
    red[..., 0], green[..., 1] = 255, 255
    r, g = pj.to_input(red, 16, grayscale=True), pj.to_input(green, 16, grayscale=True)
    assert torch.allclose(r, torch.full_like(r, 0.299 * 2 - 1))  # luma in every channel
    assert torch.allclose(g, torch.full_like(g, 0.587 * 2 - 1))


def test_agreement_values():
    place_probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    places = np.array([0, 0, 0])
    obj = np.array([[0.9, 0.1, 0.7], [0.2, 0.6, 0.1], [0.1, 0.1, 0.1]])
    named = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0]], bool)
    r = pj.agreement(place_probs, obj, places, named)
    assert r["place_accuracy"] == pytest.approx(2 / 3)
    assert r["object_recall"] == pytest.approx(2 / 4)  # named 4, seen of them 2
    assert r["object_precision"] == pytest.approx(2 / 3)  # seen 3, named of them 2
    assert r["object_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert pj.agreement(place_probs, np.zeros_like(obj), places, named)["object_f1"] == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        pj.agreement(place_probs, obj[:2], places, named)


def test_the_judge_learns_its_training_pictures():
    cfg = pj.JudgeConfig(size=16, render_size=32, widths=(16, 32), train_scenes=32, epochs=80, batch_size=8,
                         lr=3e-3, blur_sigma=0.0)
    images, places, named, _ = pj.render_labelled(range(32), "train", 32)
    untrained = pj.agreement(*pj.judge(pj.JudgeNet(cfg), images), places, named)
    assert untrained["place_accuracy"] <= 0.6 and untrained["object_f1"] < 0.3
    net = pj.train_judge(cfg)
    r = pj.agreement(*pj.judge(net, images), places, named)
    assert r["place_accuracy"] >= 0.9 and r["object_f1"] >= 0.6


def test_save_and_load_round_trip(trained, tmp_path):
    images, *_ = pj.render_labelled(range(3), "val", 32)
    before = pj.judge(trained, images)
    pj.save_judge(trained, tmp_path / "j")
    again = pj.load_judge(tmp_path / "j")
    assert again.cfg == TINY
    for a, b in zip(before, pj.judge(again, images), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(FileNotFoundError, match="judge.json"):
        pj.load_judge(tmp_path)
    cfg = json.loads((tmp_path / "j" / "judge.json").read_text())
    (tmp_path / "j" / "judge.json").write_text(json.dumps({**cfg, "widths": [4, 8]}))
    with pytest.raises(ValueError, match="does not fit"):
        pj.load_judge(tmp_path / "j")


def test_config_checks():
    with pytest.raises(ValueError, match="lr"):
        pj.JudgeConfig(lr=0)
    with pytest.raises(ValueError, match="blur_sigma"):
        pj.JudgeConfig(blur_sigma=-1)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\] in JudgeConfig"):
        pj.JudgeConfig.from_dict({"size": 16, "colour": 1})
    assert pj.JudgeConfig.from_dict({"widths": [4, 8]}).widths == (4, 8)


def test_gaussian_blur():
    x = torch.zeros(1, 2, 9, 9)
    x[:, :, 4, 4] = 1.0
    y = pj.gaussian_blur(x, 1.0)
    assert y.sum().item() == pytest.approx(2.0, rel=1e-5)  # an impulse spreads, its mass kept
    assert y[0, 0, 4, 4].item() == pytest.approx(0.3989 ** 2, rel=0.02)  # the peak of a unit 2-D Gaussian
    assert torch.equal(pj.gaussian_blur(x, 0.0), x)
    flat = torch.full((1, 3, 8, 8), 0.25)
    assert torch.allclose(pj.gaussian_blur(flat, 2.0), flat)
