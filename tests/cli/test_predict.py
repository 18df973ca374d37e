"""``openbanana predict`` through the real entry point (``openbanana.cli.main``) on a tiny random
pipeline saved to disk: files written and read back, CLI answers equal to the Python API's, one
test per bad-input class, exit codes, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from surfaces_helpers import BAD, ODD_GOOD, run_cli

from openbanana.io import load_image, load_png16
from openbanana.io.export import png16_to_depth

# run the CLI like a user: (exit code, stdout, stderr), on the CPU unless the test says otherwise,
# so answers compare exactly with the CPU pipeline of the API tests
run = run_cli


@pytest.fixture(scope="module")
def pipe(model_dir):
    from openbanana.pipeline import OpenBananaPipeline

    return OpenBananaPipeline.from_pretrained(model_dir)


def test_depth_and_normals_on_a_folder_match_the_api(tmp_path, inputs, model_dir, pipe):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("rgb", "gray", "exif_rotated"):
        shutil.copy(inputs[name], folder)
    out = tmp_path / "out"
    code, stdout, err = run(
        [
            "predict",
            str(folder),
            "--task",
            "depth",
            "--task",
            "normals",
            "--model",
            str(model_dir),
            "--out",
            str(out),
            "--point",
            "3,4",
            "--json",
            "--batch-size",
            "2",
            "--fov-deg",
            "70",
        ],
    )
    assert code == 0, err
    res = json.loads(stdout)
    assert res["inputs_ok"] == 3 and res["inputs_failed"] == 0 and len(res["results"]) == 6
    for r in (r for r in res["results"] if r["task"] == "depth"):
        image = load_image(r["input"])
        stem = r["files"]["npy"]
        depth = np.load(stem)
        assert depth.shape == image.shape[:2]  # at the (upright) input's size
        api = pipe.predict(image, task="depth")
        assert np.nanstd(api.answer) > 0  # a non-constant answer, so the comparison means something
        np.testing.assert_allclose(depth, api.answer, rtol=1e-5, equal_nan=True)
        assert r["point"]["depth_m"] == pytest.approx(float(depth[4, 3]), abs=1e-4)
        assert "depth at" not in err  # a result: with --json it is in the JSON on stdout only
        mm = load_png16(r["files"]["png16"])
        np.testing.assert_allclose(png16_to_depth(mm), np.minimum(depth, 65.535), atol=6e-4)  # mm, saturating
        meta = json.loads(Path(r["files"]["json"]).read_text())
        assert meta["ply"]["normals"] is True and meta["ply"]["fov_deg"] == 70.0
        assert b"property float nx" in Path(r["files"]["ply"]).read_bytes()[:600]
        gen = np.asarray(Image.open(r["files"]["generated"]))
        np.testing.assert_array_equal(gen, api.generated)
    assert (out / "depth").is_dir() and (out / "normals").is_dir()
    normals = np.load(out / "normals" / "rgb.normals.npy")
    assert normals.shape == (24, 36, 3)
    exif = np.load(out / "depth" / "exif_rotated.depth.npy")
    assert exif.shape == (36, 24)  # EXIF orientation applied before inference


def test_instruction_positional_segmentation_and_referring(tmp_path, inputs, model_dir):
    out = tmp_path / "out"
    instr = "Semantic segmentation: the sky is #4682B4, the road is (128, 64, 128), cars are light purple"
    code, stdout, err = run(
        ["predict", str(inputs["rgb"]), instr, "--model", str(model_dir), "--out", str(out), "--json"]
    )
    assert code == 0, err
    r = json.loads(stdout)["results"][0]
    assert r["task"] == "semantic"
    labels = load_png16(r["files"]["png16"])
    assert labels.shape == (24, 36) and set(np.unique(labels)) <= {0, 1, 2, 255}
    np.testing.assert_array_equal(labels, np.load(r["files"]["npy"]))
    assert (out / "rgb.overlay.png").is_file()
    code, stdout, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "--instruction",
            "segment the red car",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path / "ref"),
            "--json",
        ]
    )
    assert code == 0, err
    r = json.loads(stdout)["results"][0]
    assert r["task"] == "referring" and (tmp_path / "ref" / "rgb.masks.png").is_file()


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory, inputs, model_dir):
    """One CLI run over a glob matching every odd-but-valid input class."""
    folder = tmp_path_factory.mktemp("odd")
    for name in ODD_GOOD:
        shutil.copy(inputs[name], folder)
    out = tmp_path_factory.mktemp("odd_out")
    code, stdout, err = run(
        [
            "predict",
            str(folder / "*"),  # a glob pattern
            "--task",
            "depth",
            "--model",
            str(model_dir),
            "--out",
            str(out),
            "--json",
            "--batch-size",
            "8",
        ]
    )
    return code, json.loads(stdout), err


@pytest.mark.parametrize("name", ODD_GOOD)
def test_odd_but_valid_images_are_predicted(odd_run, inputs, name):
    code, res, err = odd_run
    assert code == 0, err
    (r,) = [r for r in res["results"] if r["input"].endswith(inputs[name].name)]
    depth = np.load(r["files"]["npy"])
    assert depth.shape == ((36, 24) if name == "exif_rotated" else (24, 36))


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_is_reported_in_one_line(tmp_path, inputs, model_dir, name):
    code, stdout, err = run(
        [
            "predict",
            str(inputs[name]),
            "--task",
            "depth",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and inputs[name].name in lines[0] and BAD[name] in lines[0], err
    assert json.loads(stdout)["inputs_failed"] == 1


def test_bad_files_in_a_batch_the_rest_is_done(tmp_path, inputs, model_dir):
    bad = [str(inputs[n]) for n in sorted(BAD)]
    code, stdout, err = run(
        [
            "predict",
            *bad,
            str(inputs["rgb"]),
            "--task",
            "depth",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
            "--json",
            "--batch-size",
            "3",
        ]
    )
    assert code == 1
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == len(BAD)
    res = json.loads(stdout)
    assert res["inputs_ok"] == 1 and res["inputs_failed"] == len(BAD)
    assert (tmp_path / "rgb.depth.npy").is_file()


def test_empty_folder_is_a_usage_error(tmp_path, model_dir):
    (tmp_path / "empty").mkdir()
    code, _, err = run(
        [
            "predict",
            str(tmp_path / "empty"),
            "--task",
            "depth",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "folder contains no image files" in err


def test_empty_folder_beside_good_inputs_fails_alone(tmp_path, inputs, model_dir):
    (tmp_path / "empty").mkdir()
    code, _, err = run(
        [
            "predict",
            str(tmp_path / "empty"),
            str(inputs["rgb"]),
            "--task",
            "depth",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 1 and "folder contains no image files" in err
    assert (tmp_path / "o" / "rgb.depth.npy").is_file()


def test_unknown_task(tmp_path, inputs, model_dir):
    code, _, err = run(
        ["predict", str(inputs["rgb"]), "--task", "depht", "--model", str(model_dir), "--out", str(tmp_path)]
    )
    assert code == 2 and "unknown task 'depht'" in err and "depth" in err
    assert not list(tmp_path.iterdir())


def test_instruction_with_no_parsable_palette(tmp_path, inputs, model_dir):
    code, _, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "semantic segmentation with these colours: sky is blorple",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "class -> colour" in err
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_edit_writes_the_edited_image_and_needs_an_instruction(tmp_path, inputs, model_dir):
    code, stdout, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "make the sky purple",
            "--task",
            "edit",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
            "--json",
        ]
    )
    assert code == 0, err
    r = json.loads(stdout)["results"][0]
    assert r["task"] == "edit" and set(r["files"]) == {"generated", "json"}
    assert np.asarray(Image.open(r["files"]["generated"])).shape == (24, 36, 3)
    code, _, err = run(
        ["predict", str(inputs["rgb"]), "--task", "edit", "--model", str(model_dir), "--out", str(tmp_path)]
    )
    assert code == 2 and "needs an instruction" in err


def test_usage_errors(tmp_path, inputs, model_dir):
    code, _, err = run(["predict", str(inputs["rgb"]), "--model", str(model_dir), "--out", str(tmp_path)])
    assert code == 2 and "instruction" in err
    code, _, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "--task",
            "depth",
            "--point",
            "a,b",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "--point" in err
    code, _, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "--task",
            "depth",
            "--model",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "no such folder" in err
    code, _, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "--task",
            "depth",
            "--point",
            "999,0",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1 and "outside the 36x24 image" in err
    code, _, err = run(
        [
            "predict",
            str(tmp_path / "missing.png"),
            "--task",
            "depth",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "no such file or folder" in err


def test_ensemble_with_a_seed_is_reproducible_and_exports_uncertainty(tmp_path, inputs, model_dir):
    outs = []
    for k in range(2):
        code, stdout, err = run(
            [
                "predict",
                str(inputs["rgb"]),
                "--task",
                "depth",
                "--ensemble",
                "2",
                "--steps",
                "2",
                "--seed",
                "3",
                "--model",
                str(model_dir),
                "--out",
                str(tmp_path / str(k)),
                "--json",
            ]
        )
        assert code == 0, err
        files = json.loads(stdout)["results"][0]["files"]
        outs.append((np.load(files["npy"]), np.load(files["uncertainty"])))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    assert outs[0][1].shape == (24, 36) and np.isfinite(outs[0][1]).all() and (outs[0][1] >= 0).all()


def test_mirror_combines_two_answers_and_exports_their_disagreement(tmp_path, inputs, model_dir):
    answers = {}
    for flag in ("--mirror", "--no-mirror"):
        code, stdout, err = run(["predict", str(inputs["rgb"]), "--task", "normals", "--model", str(model_dir),
                                 "--out", str(tmp_path / flag), flag, "--json"])
        assert code == 0, err
        files = json.loads(stdout)["results"][0]["files"]
        answers[flag] = (np.load(files["npy"]), files.get("uncertainty"))
    assert answers["--no-mirror"][1] is None
    assert np.load(answers["--mirror"][1]).shape == (24, 36)
    assert not np.allclose(answers["--mirror"][0], answers["--no-mirror"][0])


def test_device_without_cuda_is_a_usage_error(tmp_path, inputs, model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run(
        [
            "predict",
            str(inputs["rgb"]),
            "--task",
            "depth",
            "--device",
            "cuda",
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "no CUDA device" in err
