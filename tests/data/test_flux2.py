"""The frontier backend's weighted stream: synthetic mixture + base-model replay + a real data set."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("webdataset")

from openbanana.batch import collate
from openbanana.data.flux2 import BlendConfig, build_dataset, real_sample
from openbanana.data.flux2_replay import _png


def write_fake_replay(root, n: int = 6, size: int = 24) -> None:
    """Replay shards in the exact layout write_replay_shards produces (images random, no model)."""
    import json

    from openbanana.data.shards import write_shards

    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        meta = {"index": i, "prompt": f"prompt {i}", "task": "t2i", "seed": i, "split": "train", "steps": 4,
                "resolution": size}
        samples.append({"__key__": f"replay-{i:09d}", "target.png": _png(rng.integers(0, 256, (size, size, 3),
                                                                                   dtype=np.uint8)),
                        "json": json.dumps(meta).encode()})
    write_shards(iter(samples), str(root / "train"), shard_size=2, prefix="replay-r000")


def test_config_is_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown component 'nope'"):
        BlendConfig(weights={"nope": 1.0})
    with pytest.raises(ValueError, match="replay_dir"):
        BlendConfig(weights={"replay": 1.0})
    with pytest.raises(ValueError, match=r"real\['cityscapes'\]"):
        BlendConfig(weights={"cityscapes": 1.0})


def test_real_cityscapes_record_becomes_a_semantic_sample(tmp_path):
    from openbanana.data.flux2 import _sources
    from openbanana.data.sources.fixtures import write_cityscapes

    write_cityscapes(tmp_path / "cs", n=2)
    source = _sources().get("cityscapes")(root=tmp_path / "cs", split="val")
    s = real_sample(source, 0, np.random.default_rng(0), size=16, min_valid=0.5)
    assert s["cond"].shape == (16, 16, 3) and s["target"].shape == (16, 16, 3)
    assert s["task"] == "semantic" and isinstance(s["prompt"], str) and s["prompt"]
    # nearest-neighbour resizing keeps the colour code: every answer colour is a palette colour or black
    from openbanana.tasks import encode

    full = encode("semantic", source[0].targets[0].gt, **source[0].targets[0].spec)
    allowed = {tuple(c) for c in full.reshape(-1, 3)}
    assert {tuple(c) for c in s["target"].reshape(-1, 3)} <= allowed


def test_weighted_stream_mixes_all_components(tmp_path):
    from openbanana.data.sources.fixtures import write_cityscapes

    write_fake_replay(tmp_path / "replay")
    write_cityscapes(tmp_path / "cs", n=3)
    cfg = BlendConfig(weights={"synthetic": 0.4, "replay": 0.3, "cityscapes": 0.3}, size=16,
                      synthetic={"vision_share": 0.5}, replay_dir=str(tmp_path / "replay"),
                      real={"cityscapes": {"root": str(tmp_path / "cs"), "split": "val"}})
    it = iter(build_dataset(cfg, seed=0, rank=0, world_size=1))
    samples = [next(it) for _ in range(30)]
    counts = {c: sum(s["component"] == c for s in samples) for c in ("synthetic", "replay", "cityscapes")}
    assert all(v >= 3 for v in counts.values()), counts
    again = iter(build_dataset(cfg, seed=0, rank=0, world_size=1))
    assert [next(again)["component"] for _ in range(30)] == [s["component"] for s in samples]  # deterministic
    batch = collate(samples[:4])
    assert batch.target.shape == (4, 3, 16, 16) and len(batch.prompts) == 4
    assert float(batch.target.min()) >= -1 and float(batch.target.max()) <= 1
