"""The training mixture: determinism, sharding, task shares, and targets that decode to the truth."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_erosion
from torch.utils.data import DataLoader

import openbanana
from openbanana.data.mixture import (
    VISION_TASKS,
    MixtureConfig,
    build_dataset,
    choose_task,
    collate,
    make_sample,
    sample_rng,
)
from openbanana.data.synthetic import CLASSES, render_scene
from openbanana.tasks.router import detect_task

SIZE = 40


def _first_of_each(cfg: MixtureConfig, seed: int = 0, limit: int = 400) -> dict[str, int]:
    """Index of the first sample of each task (task choice only: no rendering)."""
    first: dict[str, int] = {}
    for i in range(limit):
        first.setdefault(choose_task(cfg, sample_rng(seed, i)), i)
    return first


def test_same_seed_same_bytes_other_seed_other_scene():
    cfg = MixtureConfig(size=SIZE)
    a, b = make_sample(cfg, 3, 5), make_sample(cfg, 3, 5)
    assert a["prompt"] == b["prompt"] and a["task"] == b["task"] and a["scene_seed"] == b["scene_seed"]
    np.testing.assert_array_equal(a["target"], b["target"])
    c = make_sample(cfg, 4, 5)
    assert c["scene_seed"] != a["scene_seed"]


def test_ranks_and_workers_partition_one_stream():
    cfg = MixtureConfig(size=16, vision_share=0.5, num_samples=8)
    single = [s["scene_seed"] for s in build_dataset(cfg, seed=1)]
    assert len(single) == 8 and len(set(single)) == 8  # never the same scene twice
    r0 = [s["scene_seed"] for s in build_dataset(cfg, seed=1, rank=0, world_size=2)]
    r1 = [s["scene_seed"] for s in build_dataset(cfg, seed=1, rank=1, world_size=2)]
    assert [x for pair in zip(r0, r1, strict=True) for x in pair] == single
    # two DataLoader workers return the rank's stream in order (round-robin), no duplicates
    loader = DataLoader(build_dataset(cfg, seed=1, rank=1, world_size=2), batch_size=None, num_workers=2,
                        collate_fn=lambda s: s)
    assert [s["scene_seed"] for s in loader] == r1
    # exact resume from a position
    assert [s["scene_seed"] for s in build_dataset(cfg, seed=1, rank=1, world_size=2, start=2)] == r1[2:]


def test_every_task_appears_at_its_share():
    cfg = MixtureConfig(vision_share=0.1, vision_weights={"depth": 2, "normals": 1, "semantic": 1, "instance": 1,
                                                          "referring": 1, "reasoning": 1})
    probs = cfg.task_probabilities()
    assert abs(sum(probs.values()) - 1) < 1e-12
    assert probs["depth"] == pytest.approx(0.1 * 2 / 7) and probs["t2i"] == pytest.approx(0.9 * 0.6)
    n = 20000
    counts = Counter(choose_task(cfg, sample_rng(7, i)) for i in range(n))
    assert set(counts) == set(probs)
    for task, p in probs.items():
        sigma = (n * p * (1 - p)) ** 0.5
        assert abs(counts[task] - n * p) < 4.5 * sigma, (task, counts[task], n * p)
    vision = sum(counts[t] for t in VISION_TASKS) / n
    assert abs(vision - 0.1) < 0.01
    # pretraining: no vision at all
    pre = MixtureConfig(vision_share=0.0)
    assert {choose_task(pre, sample_rng(0, i)) for i in range(500)} == {"t2i", "edit"}


def test_make_sample_uses_the_chosen_task():
    cfg = MixtureConfig(size=SIZE, vision_share=0.6)
    for task, i in _first_of_each(cfg).items():
        s = make_sample(cfg, 0, i)
        assert s["task"] == task
        assert s["target"].dtype == np.uint8 and s["target"].shape == (SIZE, SIZE, 3)
        assert isinstance(s["prompt"], str) and s["prompt"].strip()
        if task == "t2i":
            assert s["cond"] is None
        else:
            assert s["cond"].dtype == np.uint8 and s["cond"].shape == (SIZE, SIZE, 3)


def _check_roundtrip(s: dict, split: str) -> None:
    """Decode the sample's target with its spec and compare with the scene's ground truth."""
    task, spec = s["task"], s["spec"]
    scene = render_scene(s["scene_seed"], split=split, size=SIZE)
    np.testing.assert_array_equal(s["cond"], scene.rgb)
    answer = openbanana.decode(task, s["target"], **spec)
    decoded = answer.value
    if task == "depth":
        gt = scene.depth_m
        if spec["colormap"] in ("paper", "grayscale"):
            ok = np.isfinite(gt) & (gt < 20)
            tol = 0.015 if spec["colormap"] == "paper" else 0.12
        else:
            ok = (gt > 0.15) & (gt < 70)
            tol = 0.03
        rel = np.abs(decoded[ok] - gt[ok]) / gt[ok]
        assert np.median(rel) < tol / 2 and rel.max() < tol, (spec, rel.max())
    elif task == "normals":
        n, valid = decoded, answer.valid
        gt_valid = np.linalg.norm(scene.normals, axis=-1) > 0.5
        np.testing.assert_array_equal(valid, gt_valid)
        cos = (n[valid] * scene.normals[valid]).sum(-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0
    elif task == "semantic":
        names = list(spec["palette"])
        want = np.full(scene.semantic.shape, 255, np.int64)
        for j, name in enumerate(names):
            want[scene.semantic == CLASSES.index(name)] = j
        np.testing.assert_array_equal(decoded, want)
    elif task == "instance":
        ids = [o.instance_id for o in scene.objects if o.class_name == spec["category"]]
        gt = np.where(np.isin(scene.instance, ids), scene.instance, 0)
        assert np.bincount(gt.ravel()).max(initial=0) >= 0.005 * gt.size  # a visible instance was asked for
        fg = decoded > 0
        assert not (fg & (gt == 0)).any()  # nothing outside the class's instances
        # compact instances (not thin poles: the paper's decoder drops 1-pixel-wide halos) come back
        compact = [k for k in np.unique(gt[gt > 0])
                   if binary_erosion(gt == k).sum() >= 0.3 * (gt == k).sum() >= 6]
        for k in compact:
            assert fg[gt == k].mean() > 0.5, (spec, k)
        for k in np.unique(decoded[fg]):
            assert len(np.unique(gt[decoded == k])) == 1  # every decoded instance is one true instance
    else:  # referring / reasoning
        expr_ids = dict(scene.referring) if task == "referring" else dict(scene.reasoning)
        want = np.stack([np.isin(scene.instance, expr_ids[e]) for e in spec["expressions"]])
        np.testing.assert_array_equal(decoded, want)


@pytest.mark.parametrize("task", VISION_TASKS)
def test_targets_decode_to_the_ground_truth(task):
    cfg = MixtureConfig(size=SIZE, vision_share=1.0, vision_weights={task: 1.0}, colormap_prob=0.5,
                        palette_fixed_prob=0.25, palette_full_prob=0.25, palette_subset_prob=0.25,
                        instance_black_prob=0.5, split="val")
    for i in range(3):
        s = make_sample(cfg, 11, i)
        if s["task"] != task:  # a rare fallback to depth when no scene offers the task
            continue
        _check_roundtrip(s, "val")


def test_depth_colormap_is_named_in_the_instruction():
    cfg = MixtureConfig(size=16, vision_share=1.0, vision_weights={"depth": 1}, colormap_prob=1.0, canonical_prob=0.0)
    s = make_sample(cfg, 0, 0)
    cmap = s["spec"]["colormap"]
    assert cmap in cfg.colormaps
    assert detect_task(s["prompt"]).spec["colormap"] == cmap


def test_collate_builds_a_batch_in_minus_one_one():
    t2i = {"cond": None, "target": np.full((8, 8, 3), 255, np.uint8), "prompt": "a room", "task": "t2i"}
    dep = {"cond": np.zeros((8, 8, 3), np.uint8), "target": np.zeros((8, 8, 3), np.uint8), "prompt": "depth",
           "task": "depth"}
    b = collate([t2i, dep])
    assert b.target.shape == (2, 3, 8, 8) and b.target.dtype == torch.float32
    assert float(b.target[0].min()) == 1.0 and float(b.target[1].max()) == -1.0
    assert b.has_cond.tolist() == [False, True]
    assert float(b.cond[0].abs().max()) == 0.0 and float(b.cond[1].max()) == -1.0
    assert b.prompts == ["a room", "depth"] and b.tasks == ["t2i", "depth"]
    with pytest.raises(ValueError):
        collate([])


def test_photometric_jitter_changes_the_input_not_the_target():
    plain = MixtureConfig(size=SIZE, vision_share=1.0)
    lit = MixtureConfig(size=SIZE, vision_share=1.0, photometric_prob=1.0)
    for index in range(3):
        a, b = make_sample(plain, 2, index), make_sample(lit, 2, index)
        assert a["task"] == b["task"] and a["prompt"] == b["prompt"] and a["scene_seed"] == b["scene_seed"]
        np.testing.assert_array_equal(a["target"], b["target"])
        assert a["cond"].shape == b["cond"].shape and not np.array_equal(a["cond"], b["cond"])
        np.testing.assert_array_equal(a["cond"], render_scene(a["scene_seed"], split="train", size=SIZE).rgb)


def test_color_cast_tints_the_input_and_keeps_old_streams():
    plain = MixtureConfig(size=SIZE, vision_share=1.0)
    off = MixtureConfig(size=SIZE, vision_share=1.0, color_cast_prob=0.0)
    tinted = MixtureConfig(size=SIZE, vision_share=1.0, color_cast_prob=1.0)
    for index in range(3):
        a, b, c = make_sample(plain, 2, index), make_sample(off, 2, index), make_sample(tinted, 2, index)
        np.testing.assert_array_equal(a["cond"], b["cond"])
        np.testing.assert_array_equal(a["target"], c["target"])
        assert a["prompt"] == c["prompt"] and not np.array_equal(a["cond"], c["cond"])
        ratio = c["cond"].reshape(-1, 3).mean(0) / a["cond"].reshape(-1, 3).mean(0)
        assert ratio.max() / ratio.min() > 1.01 and abs(c["cond"].mean() - a["cond"].mean()) < 8


def test_bad_configs_say_what_is_wrong():
    with pytest.raises(ValueError, match="vision_share") as e:
        MixtureConfig(vision_share=1.5, vision_weights={"dept": 1.0})
    assert "dept" in str(e.value)  # every problem listed
    with pytest.raises(ValueError, match="source"):
        MixtureConfig(source="elsewhere")
    with pytest.raises(ValueError, match=r"photometric_prob must be in \[0, 1\], got 2"):
        MixtureConfig(photometric_prob=2)
    with pytest.raises(ValueError, match=r"color_cast_prob must be in \[0, 1\], got -0.5"):
        MixtureConfig(color_cast_prob=-0.5)
    with pytest.raises(ValueError, match=r"instance_scheme must be one of \['position', 'rank'\]"):
        MixtureConfig(instance_scheme="diagonal")
    with pytest.raises(ValueError, match="rank"):
        build_dataset(MixtureConfig(), seed=0, rank=2, world_size=2)


def test_shard_source_reads_scenes_from_disk(tmp_path):
    from openbanana.data.shards import scene_to_sample, write_shards

    scenes = [render_scene(i, split="train", size=16) for i in range(6)]
    write_shards((scene_to_sample(s) for s in scenes), str(tmp_path), shard_size=2)
    assert len(list(tmp_path.glob("*.tar"))) == 3
    cfg = MixtureConfig(size=16, vision_share=1.0, vision_weights={"referring": 1, "depth": 1}, source=str(tmp_path),
                        num_samples=12)
    one = list(build_dataset(cfg, seed=0))
    assert len(one) == 12 and [s["scene_seed"] for s in one] == [0, 1, 2, 3, 4, 5] * 2  # endless epochs, in order
    by_seed = {s.seed: s for s in scenes}
    for s in one:
        np.testing.assert_array_equal(s["cond"], by_seed[s["scene_seed"]].rgb)
        if s["task"] == "referring":
            decoded = openbanana.decode("referring", s["target"], **s["spec"]).value
            ids = dict(by_seed[s["scene_seed"]].referring)
            want = np.stack([np.isin(by_seed[s["scene_seed"]].instance, ids[e]) for e in s["spec"]["expressions"]])
            np.testing.assert_array_equal(decoded, want)
    # two ranks split the shards; a resumed stream continues where it stopped
    r1 = [s["scene_seed"] for s in build_dataset(cfg, seed=0, rank=1, world_size=2)]
    assert set(r1) <= {2, 3} and len(r1) == 6
    assert [s["scene_seed"] for s in build_dataset(cfg, seed=0, start=4)] == [4, 5, 0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="size"):
        next(iter(build_dataset(MixtureConfig(size=32, source=str(tmp_path)), seed=0)))


def test_instructions_say_what_the_targets_show():
    """The router reads every training instruction back to the sample's task and spec."""
    cfg = MixtureConfig(size=16, vision_share=1.0, palette_fixed_prob=0.2, palette_full_prob=0.1,
                        palette_subset_prob=0.2, instance_black_prob=0.3, canonical_prob=0.1)
    seen = set()
    for i in range(40):
        s = make_sample(cfg, 5, i)
        task, spec = s["task"], s["spec"]
        seen.add(task)
        req = detect_task(s["prompt"], has_image=True)
        assert req.task == task, s["prompt"]
        if task == "semantic":
            assert req.spec["palette"] == spec["palette"], s["prompt"]
        elif task in ("referring", "reasoning"):
            assert [tuple(c) for c in req.spec["colors"]] == [tuple(c) for c in spec["colors"]], s["prompt"]
            assert tuple(req.spec["background"]) == tuple(spec["background"]), s["prompt"]
        elif task == "instance":
            assert tuple(req.spec["background"]) == tuple(spec["background"]), s["prompt"]
        elif task == "depth":
            assert req.spec["colormap"] == spec["colormap"], s["prompt"]
    assert seen == set(VISION_TASKS)


@pytest.mark.parametrize("scheme", ["rank", "position"])
def test_instance_targets_are_coloured_by_the_configured_scheme(scheme):
    from openbanana.data.mixture import canonical_instance_order
    from openbanana.tasks.codecs.instances import encode_instances

    cfg = MixtureConfig(size=SIZE, vision_share=1.0, vision_weights={"instance": 1.0}, instance_black_prob=1.0,
                        instance_color_seeds=1, instance_scheme=scheme, split="val")
    s = make_sample(cfg, 11, 0)
    assert s["task"] == "instance"
    scene = render_scene(s["scene_seed"], split="val", size=SIZE)
    ids = [o.instance_id for o in scene.objects if o.class_name == s["spec"]["category"]]
    np.testing.assert_array_equal(s["target"], encode_instances(canonical_instance_order(scene.instance, ids),
                                                                scheme=scheme))


def test_canonical_instance_order_numbers_left_to_right():
    from openbanana.data.mixture import canonical_instance_order

    inst = np.array([[5, 5, 0, 3, 3],
                     [5, 0, 0, 3, 3],
                     [9, 9, 9, 9, 9]])  # 9 is another class's object: not asked for
    out = canonical_instance_order(inst, [3, 5, 7])  # 7 is not in view
    assert out.tolist() == [[1, 1, 0, 2, 2], [1, 0, 0, 2, 2], [0, 0, 0, 0, 0]]
    # the answer is a function of the picture: the same layout with other ids gives the same map
    assert np.array_equal(canonical_instance_order(np.where(inst == 5, 40, inst), [3, 40]), out)
