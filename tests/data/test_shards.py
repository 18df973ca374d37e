"""WebDataset shards: exact round trip of every member, the reader, the CLI."""

import json
import os
import tarfile

import numpy as np
import pytest

from openbanana.data.shards import MEMBERS, read_shards, sample_to_dict, scene_to_sample, write_shards
from openbanana.data.synthetic import render_scene
from openbanana.errors import DataLayoutError


def test_round_trip(tmp_path):
    scenes = [render_scene(s, split="val", size=48) for s in range(5)]
    paths = write_shards((scene_to_sample(s) for s in scenes), str(tmp_path), shard_size=2, prefix="t")
    assert len(paths) == 3 and all(os.path.exists(p) for p in paths)
    with tarfile.open(paths[0]) as tf:
        names = tf.getnames()
    assert "val-000000000.rgb.png" in names and "val-000000000.json" in names
    got = list(read_shards(str(tmp_path / "*.tar")))
    assert [g["key"] for g in got] == [f"val-{i:09d}" for i in range(5)]
    for g, s in zip(got, scenes):
        assert (g["rgb"] == s.rgb).all() and (g["semantic"] == s.semantic).all() and (g["instance"] == s.instance).all()
        fin = np.isfinite(s.depth_m)
        assert (np.isinf(g["depth_m"]) == ~fin).all()
        np.testing.assert_allclose(g["depth_m"][fin], s.depth_m[fin], rtol=1e-3)  # float16
        ang = np.degrees(np.arccos(np.clip((g["normals"][fin] * s.normals[fin]).sum(-1), -1, 1)))
        assert ang.max() < 0.8  # 8-bit colour code
        assert (g["normals"][~fin] == 0).all()
        assert g["caption"] == s.caption and [tuple(r) for r in g["referring"]] == list(s.referring)
        assert g["camera"]["fov_deg"] == pytest.approx(s.camera.fov_deg)
        assert len(g["objects"]) == len(s.objects)


def test_missing_member_is_a_layout_error():
    s = scene_to_sample(render_scene(0, size=32))
    del s["depth.npy"]
    with pytest.raises(DataLayoutError):
        sample_to_dict(s)
    assert set(MEMBERS) - {"depth.npy"} <= set(s)


def test_no_shards_is_a_layout_error(tmp_path):
    with pytest.raises(DataLayoutError):
        list(read_shards(str(tmp_path / "*.tar")))


def test_cli_synth_and_preview(tmp_path):
    from openbanana.cli import main

    out = tmp_path / "shards"
    main(["data", "synth", "--split", "shift", "--n", "3", "--size", "32", "--out", str(out), "--workers", "1"])
    got = list(read_shards(str(out / "*.tar")))
    assert [g["key"] for g in got] == ["shift-000000000", "shift-000000001", "shift-000000002"]
    assert got[1]["split"] == "shift" and json.dumps(got[1]["objects"])
    with pytest.raises(SystemExit) as e:
        main(["data", "synth", "--split", "nope", "--n", "3", "--out", str(out)])
    assert e.value.code == 2


def test_cli_preview(tmp_path):
    from PIL import Image

    from openbanana.cli import main

    p = tmp_path / "sheet.png"
    main(["data", "preview", "--out", str(p), "--per-split", "1", "--size", "32"])
    im = np.asarray(Image.open(p))
    assert im.shape[1] == 6 * 32 and im.shape[0] == 3 * (32 + 14)


def test_cli_synth_batched_renderer_writes_the_same_scenes(tmp_path):
    """--renderer batched (the GPU path, here on the CPU device) writes the scenes the Embree
    renderer writes: same keys, language and labels; pixels within the renderers' tolerance."""
    pytest.importorskip("warp")
    from openbanana.cli import main

    a, b = tmp_path / "embree", tmp_path / "batched"
    main(["data", "synth", "--split", "val", "--n", "3", "--size", "24", "--out", str(a), "--workers", "1"])
    main(["data", "synth", "--split", "val", "--n", "3", "--size", "24", "--out", str(b), "--workers", "2",
          "--renderer", "batched", "--device", "cpu", "--batch", "2"])
    ga, gb = list(read_shards(str(a / "*.tar"))), list(read_shards(str(b / "*.tar")))
    assert [g["key"] for g in gb] == [g["key"] for g in ga] == [f"val-{i:09d}" for i in range(3)]
    for x, y in zip(ga, gb):
        assert x["caption"] == y["caption"] and x["referring"] == y["referring"]
        assert (x["semantic"] == y["semantic"]).mean() > 0.99
        assert (np.abs(x["rgb"].astype(int) - y["rgb"]) <= 3).all(-1).mean() > 0.98


@pytest.mark.parametrize("args, message", [
    (["--device", "cuda:0", "--renderer", "embree"], "the embree renderer runs on the CPU"),
    (["--renderer", "raster"], "unknown renderer 'raster'"),
    (["--renderer", "batched", "--device", "cpu", "--intersector", "bvh"], "unknown intersector 'bvh'"),
    (["--batch", "0"], "batch > 0"),
])
def test_cli_synth_bad_renderer_options(tmp_path, capsys, args, message):
    from openbanana.cli import main

    with pytest.raises(SystemExit) as e:
        main(["data", "synth", "--n", "2", "--out", str(tmp_path / "x"), *args])
    assert e.value.code != 0
    assert message in capsys.readouterr().err


def test_cli_synth_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    from openbanana.cli import main

    with pytest.raises(SystemExit) as e:
        main(["data", "synth", "--n", "2", "--out", str(tmp_path / "x"), "--device", "cuda"])
    assert e.value.code != 0 and "no CUDA GPU is available" in capsys.readouterr().err
