"""``openbanana predict`` answers honestly (issue 16, section 2): instructions of any length,
path-like arguments that name nothing, a ``--task`` the instruction contradicts, empty answers,
tasks that need an instruction, ``--out`` errors, ``--json`` keys and which stream gets what.

Runs the real entry point on the tiny random pipeline of ``conftest.py``; where a test needs a
known drawing, the backend is made to paint one colour everywhere (the decoding, writing and
reporting that follow are the real ones).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from surfaces_helpers import run_cli

from openbanana.cli import predict as cli_predict
from openbanana.data.synthetic import CLASSES
from openbanana.pipeline import default_spec
from openbanana.tasks import TASKS

#: the keys of every ``--json`` result, whatever the outcome
RESULT_KEYS = {"input", "task", "ok", "error", "files", "seconds", "point", "empty", "note", "classes"}
BLACK, RED = (0, 0, 0), (255, 0, 0)


def predict(inputs, model_dir, out, *args):
    return run_cli(["predict", *map(str, inputs), *args, "--model", str(model_dir), "--out", str(out)])


def error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith(("error:", "Error:"))]


@pytest.fixture
def paint(monkeypatch, model_dir):
    """``paint(rgb)``: from now on ``openbanana predict`` runs a model that draws ``rgb`` everywhere."""
    from openbanana.pipeline import OpenBananaPipeline

    def use(rgb: tuple[int, int, int]) -> None:
        pipe = OpenBananaPipeline.from_pretrained(model_dir)

        def sample(cond, prompts, *, height, width, **_):
            x = torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1.0
            return x.view(1, 3, 1, 1).expand(len(prompts), 3, height, width).clone()

        monkeypatch.setattr(pipe.backend, "sample", sample)
        monkeypatch.setattr(cli_predict, "load_pipeline", lambda model, device="cpu": pipe)

    return use


# ----------------------------------------------------------------------- instructions of any length
def test_the_default_semantic_instruction_works_as_the_positional_argument(tmp_path, inputs, model_dir):
    instr = TASKS.get("semantic").instruction(None, **default_spec("semantic"))
    assert len(instr) > 800  # longer than a file name may be (255)
    code, stdout, err = predict([inputs["rgb"], instr], model_dir, tmp_path / "o", "--json")
    assert code == 0, err
    (r,) = json.loads(stdout)["results"]
    assert r["ok"] and r["task"] == "semantic" and r["files"]["npy"].endswith("rgb.labels.npy")
    assert r["classes"] == {**{str(i): c for i, c in enumerate(CLASSES)}, "255": "void"}
    assert json.loads((tmp_path / "o" / "rgb.json").read_text())["classes"] == r["classes"]


def test_a_very_long_depth_instruction_is_an_instruction(tmp_path, inputs, model_dir):
    instr = "Estimate the depth of this image. " + "Be careful with thin structures. " * 150
    code, stdout, err = predict([inputs["rgb"], instr], model_dir, tmp_path / "o", "--json")
    assert code == 0, err
    assert [r["task"] for r in json.loads(stdout)["results"]] == ["depth"]


# ------------------------------------------------------------------ path-like arguments name files
@pytest.mark.parametrize("name", ["missing.png", "photo.JPG", "shots/*.png", "./later", "sub/dir/x"])
def test_a_path_like_last_argument_that_names_nothing_is_an_error(tmp_path, inputs, model_dir, name):
    code, _, err = predict([inputs["rgb"], name], model_dir, tmp_path / "o")
    assert code == 2
    (line,) = error_lines(err)
    assert f"{name}: no such file or folder" in line and "--instruction" in line
    assert not (tmp_path / "o").exists()


def test_a_missing_path_beside_a_task_fails_alone(tmp_path, inputs, model_dir):
    code, stdout, err = predict([inputs["rgb"], tmp_path / "missing.png"], model_dir, tmp_path / "o",
                                "--task", "depth", "--json")
    assert code == 1
    (line,) = error_lines(err)
    assert line == f"error: {tmp_path / 'missing.png'}: no such file or folder"
    res = json.loads(stdout)
    assert res["inputs_ok"] == 1 and res["inputs_failed"] == 1
    assert (tmp_path / "o" / "rgb.depth.npy").is_file()


def test_an_instruction_with_a_slash_and_spaces_is_still_an_instruction(tmp_path, inputs, model_dir):
    code, stdout, err = predict([inputs["rgb"], "highlight the cat/dog in red"], model_dir, tmp_path / "o", "--json")
    assert code == 0, err
    assert json.loads(stdout)["results"][0]["task"] == "referring"


def test_an_instruction_alone_asks_for_the_input_first(tmp_path, model_dir):
    code, _, err = predict(["estimate the depth"], model_dir, tmp_path / "o")
    assert code == 2
    (line,) = error_lines(err)
    assert "'estimate the depth' is no file, folder or glob" in line and "before the instruction" in line


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("photo.png", True), ("IMG_0001.JPEG", True), ("/abs/x", True), ("./x", True), ("../x", True),
        ("~/x", True), ("shots/*.png", True), ("a/b", True), ("my photos/img 1.png", True),
        ("estimate the depth", False), ("highlight the cat/dog in red", False), ("depth", False),
        ("what is on the table?", False), ("road: #804080; sky: light blue", False),
    ],
)
def test_looks_like_path(text, path):
    assert cli_predict.looks_like_path(text) is path


def test_names_input_never_raises_on_long_text(tmp_path):
    assert cli_predict.names_input("x" * 5000) is False
    assert cli_predict.names_input("a\x00b") is False
    (tmp_path / "a.png").write_bytes(b"")
    assert cli_predict.names_input(str(tmp_path / "a.png")) and cli_predict.names_input(str(tmp_path / "*.png"))
    assert cli_predict.names_input(str(tmp_path / "*.jpg")) is False


# ------------------------------------------------------------ --task against the instruction
@pytest.mark.parametrize(
    ("instruction", "task", "asked"),
    [("estimate the depth", "normals", "depth"), ("estimate the surface normals", "depth", "normals"),
     ("Semantic segmentation: the sky is #4682B4", "instance", "semantic"),
     ("segment the red car", "reasoning", "referring"), ("estimate the depth", "edit", "depth")],
)
def test_a_task_the_instruction_contradicts_is_an_error_naming_both(
    tmp_path, inputs, model_dir, instruction, task, asked
):
    code, stdout, err = predict([inputs["rgb"], instruction], model_dir, tmp_path / "o", "--task", task)
    assert code == 2 and stdout == ""
    (line,) = error_lines(err)
    assert line == (
        f"error: --task {task} contradicts the instruction {instruction!r}, which asks for {asked}; "
        f"leave out --task, or give an instruction for {task}"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("instruction", "task"),
    [("estimate the depth", "depth"), ("the sky is #4682B4, the road is (128, 64, 128)", "semantic"),
     ("make the sky purple", "edit"), ('Question: "what cuts bread?" Highlight the answer in red.', "referring")],
)
def test_a_task_the_instruction_agrees_with_or_leaves_open_runs(tmp_path, inputs, model_dir, instruction, task):
    code, stdout, err = predict([inputs["rgb"], instruction], model_dir, tmp_path / "o", "--task", task, "--json")
    assert code == 0, err
    assert json.loads(stdout)["results"][0]["task"] == task


# --------------------------------------------------------------------------------- empty answers
def test_empty_answers_are_reported_on_the_console_and_in_json(tmp_path, inputs, model_dir, paint):
    paint(BLACK)  # black: void for labels, background for ids and masks, no normal; 0 m for depth
    tasks = ["semantic", "instance", "normals", "depth"]
    args = [a for t in tasks for a in ("--task", t)]
    code, stdout, err = predict([inputs["rgb"]], model_dir, tmp_path / "j", *args, "--json")
    assert code == 0, err
    res = json.loads(stdout)
    by_task = {r["task"]: r for r in res["results"]}
    assert res["empty"] == 3 and res["ok"] == 4
    assert {t: r["empty"] for t, r in by_task.items()} == {
        "semantic": True, "instance": True, "normals": True, "depth": False
    }
    n = len(CLASSES)
    assert by_task["semantic"]["note"] == f"every pixel is void: none of the {n} class colours was drawn"
    assert by_task["instance"]["note"] == "no instance: every pixel is background"
    assert by_task["normals"]["note"] == "no pixel has a valid normal"
    assert by_task["depth"]["note"] is None
    assert json.loads((tmp_path / "j" / "semantic" / "rgb.json").read_text())["empty"] is True

    code, stdout, err = predict([inputs["rgb"]], model_dir, tmp_path / "c", *args)
    assert code == 0, err
    notes = [ln for ln in err.splitlines() if ln.startswith("note:")]
    assert f"note: {inputs['rgb']}: the answer is empty (no instance: every pixel is background)" in notes
    assert len(notes) == 3
    assert stdout.strip() == f"1 image(s) done (3 with an empty answer), 0 failed; files in {tmp_path / 'c'}"


def test_an_empty_referring_mask_is_reported(tmp_path, inputs, model_dir, paint):
    paint(BLACK)
    code, stdout, err = predict([inputs["rgb"], "highlight the red car"], model_dir, tmp_path / "o", "--json")
    assert code == 0, err
    (r,) = json.loads(stdout)["results"]
    assert r["task"] == "referring" and r["empty"] is True
    assert r["note"] == "no pixel has the target colour (255, 0, 0)"
    assert not np.load(r["files"]["npy"]).any()


def test_one_empty_mask_of_two_is_named(tmp_path, inputs, model_dir, paint):
    paint(RED)  # the car's colour everywhere, none of the dog's
    instr = 'Highlight "the car" in red and "the dog" in blue.'
    code, stdout, err = predict([inputs["rgb"], instr], model_dir, tmp_path / "o")
    assert code == 0, err
    assert f"note: {inputs['rgb']}: part of the answer is empty (no pixel for 'the dog' (1 of 2 masks empty))" in err
    assert "with an empty answer" not in stdout


# ------------------------------------------------------------------ tasks that need an instruction
@pytest.mark.parametrize(
    ("task", "needs"),
    [("referring", 'naming what to highlight, e.g. "highlight the red car"'),
     ("reasoning", 'asking the question to answer, e.g. "what would you use to cut the bread?"'),
     ("edit", 'saying what to change, e.g. "make the sofa blue"')],
)
def test_a_task_without_its_instruction_is_one_line_and_leaves_no_folder(tmp_path, inputs, model_dir, task, needs):
    code, stdout, err = predict([inputs["rgb"]], model_dir, tmp_path / "o", "--task", task)
    assert code == 2 and stdout == ""
    assert err.strip() == f"error: --task {task} needs an instruction {needs}"
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------ --out and errors
def test_out_that_is_a_file_or_under_a_file_names_out(tmp_path, inputs, model_dir):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code, _, err = predict([inputs["rgb"]], model_dir, blocker, "--task", "depth")
    assert code == 2 and err.strip() == f"error: --out {blocker}: is a file, not a folder"
    code, _, err = predict([inputs["rgb"]], model_dir, blocker / "sub", "--task", "depth")
    assert code == 2
    assert err.strip() == f"error: --out {blocker / 'sub'}: cannot make a folder there, {blocker} is a file"


def test_out_is_created_only_when_something_is_written(tmp_path, inputs, model_dir):
    code, _, err = predict([inputs["corrupt"]], model_dir, tmp_path / "o" / "deep", "--task", "depth")
    assert code == 1 and "corrupt" in err
    assert not (tmp_path / "o").exists()


def test_an_echoed_long_instruction_is_shortened(tmp_path, inputs, model_dir):
    instr = "semantic segmentation with these colours: sky is blorple. " + "Thank you very much. " * 40
    code, _, err = predict([inputs["rgb"], instr], model_dir, tmp_path / "o")
    assert code == 2
    (line,) = error_lines(err)
    assert f"{instr[:80].rstrip()}…'" in line and instr[:81] not in line
    assert len(line) < 400


# ----------------------------------------------------------------------------- JSON and streams
def test_json_results_carry_the_same_keys_whatever_the_outcome(tmp_path, inputs, model_dir):
    (tmp_path / "empty").mkdir()
    code, stdout, _ = predict(
        [tmp_path / "empty", inputs["corrupt"], inputs["rgb"]], model_dir, tmp_path / "o",
        "--task", "depth", "--task", "semantic", "--json",
    )
    assert code == 1
    res = json.loads(stdout)
    assert set(res) == {"inputs_ok", "inputs_failed", "ok", "failed", "empty", "seconds", "out", "results"}
    assert len(res["results"]) == 1 + 2 + 2
    for r in res["results"]:
        assert set(r) == RESULT_KEYS
    folder, *corrupt = [r for r in res["results"] if not r["ok"]]
    assert folder["task"] is None and folder["files"] == {} and folder["seconds"] is None
    assert "folder contains no image files" in folder["error"]
    assert [r["task"] for r in corrupt] == ["depth", "semantic"]
    assert all(r["empty"] is None and r["classes"] is None and "corrupt" in r["error"] for r in corrupt)
    depth, semantic = [r for r in res["results"] if r["ok"]]
    assert depth["error"] is None and depth["classes"] is None and depth["empty"] in (True, False)
    assert semantic["classes"]["0"] == CLASSES[0] and semantic["classes"]["255"] == "void"


def test_the_point_readout_goes_to_stdout(tmp_path, inputs, model_dir):
    code, stdout, err = predict([inputs["rgb"]], model_dir, tmp_path / "o", "--task", "depth", "--point", "3,4")
    assert code == 0, err
    depth = np.load(tmp_path / "o" / "rgb.depth.npy")
    lines = stdout.splitlines()
    assert lines[0] == f"{inputs['rgb']}: depth at (3, 4) = {depth[4, 3]:.2f} m"
    assert lines[1] == f"1 image(s) done, 0 failed; files in {tmp_path / 'o'}"
    assert "depth at" not in err


def test_point_with_an_instruction_for_another_task_is_a_usage_error(tmp_path, inputs, model_dir):
    code, _, err = predict([inputs["rgb"], "segment the red car"], model_dir, tmp_path / "o", "--point", "1,1")
    assert code == 2 and err.strip() == "error: --point reads a depth, but the instruction asks for referring"
    code, _, err = predict([inputs["rgb"]], model_dir, tmp_path / "o", "--task", "normals", "--point", "1,1")
    assert code == 2 and err.strip() == "error: --point reads a depth, but --task asks for normals"
    assert not (tmp_path / "o").exists()
