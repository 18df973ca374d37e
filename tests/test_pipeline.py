"""The inference pipeline on a real (randomly initialised) tiny backend and real rendered scenes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import openbanana
from openbanana.backends.text import TextEncoderConfig
from openbanana.backends.tiny import TinyBackend, TinyConfig
from openbanana.data.synthetic import CLASSES, render_scene
from openbanana.errors import InstructionError, OpenBananaError
from openbanana.pipeline import OpenBananaPipeline, PipelineOutput, Prediction, load_model
from openbanana.pipeline_config import InferenceDefaults, PipelineConfig

H, W = 50, 70  # a non-square input; the model works at 16 x 16


@pytest.fixture(scope="module")
def pipe_dir(tmp_path_factory):
    torch.manual_seed(0)
    cfg = TinyConfig(channels=8, channel_mults=(1, 2), num_res_blocks=1, attn_levels=(1,), heads=2, emb_dim=32,
                     text=TextEncoderConfig(dim=32, layers=1, heads=2))
    backend = TinyBackend(cfg)
    with torch.no_grad():  # zero-initialised output layers would make every answer the same grey
        for p in backend.parameters():
            if not p.any():
                p.normal_(0.0, 0.2)
    pipe = OpenBananaPipeline(backend, PipelineConfig(
        backend="tiny", resolution=16, inference=InferenceDefaults(num_inference_steps=3)))
    return pipe.save_pretrained(tmp_path_factory.mktemp("pipe"))


@pytest.fixture(scope="module")
def pipe(pipe_dir):
    return OpenBananaPipeline.from_pretrained(pipe_dir)


@pytest.fixture(scope="module")
def scene():
    return render_scene(2, split="val", size=(H, W))


def test_save_pretrained_layout_is_json_and_safetensors_only(pipe_dir, pipe):
    files = sorted(p.relative_to(pipe_dir).as_posix() for p in pipe_dir.rglob("*") if p.is_file())
    assert files == ["backend/config.json", "backend/model.safetensors", "pipeline.json"]
    cfg = json.loads((pipe_dir / "pipeline.json").read_text())
    assert cfg["backend"] == "tiny" and cfg["resolution"] == 16
    assert cfg["inference"]["num_inference_steps"] == 3 and cfg["inference"]["one_step_dense"] is True
    # loaded weights equal the saved ones: the same deterministic one-step answer twice
    again = OpenBananaPipeline.from_pretrained(pipe_dir)
    img = np.full((16, 16, 3), 90, np.uint8)
    a = pipe.predict(img, task="depth").raw
    np.testing.assert_array_equal(a, again.predict(img, task="depth").raw)
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 1  # a real, non-constant network output
    assert not np.array_equal(a, pipe.predict(np.full((16, 16, 3), 200, np.uint8), task="depth").raw)


def _requests(scene):
    thing = next(o.class_name for o in scene.objects if (scene.instance == o.instance_id).sum() > 0)
    expr = scene.referring[0][0] if scene.referring else "the floor"
    query = scene.reasoning[0][0] if scene.reasoning else "what could you sit on?"
    return {
        "depth": ("estimate the depth", {}),
        "normals": (None, {"task": "normals"}),
        "semantic": (None, {"task": "semantic"}),
        "instance": (f"Instance segmentation: paint every {thing} in a different colour on a black background.", {}),
        "referring": (f'Highlight "{expr}" in blue and "the wall" in yellow on a black background.', {}),
        "reasoning": (f'Question: "{query}" Highlight the answer in red.', {}),
    }


@pytest.mark.parametrize("task", ["depth", "normals", "semantic", "instance", "referring", "reasoning"])
def test_predict_every_task_on_a_rendered_non_square_scene(pipe, scene, task):
    instruction, kw = _requests(scene)[task]
    pred = pipe.predict(scene.rgb, instruction, **kw)
    assert isinstance(pred, Prediction) and pred.task == task
    assert isinstance(pred.instruction, str) and pred.instruction
    assert pred.generated.shape == (H, W, 3) and pred.generated.dtype == np.uint8
    assert pred.raw.shape == (16, 16, 3) and pred.raw.dtype == np.uint8
    assert pred.uncertainty is None and pred.ensemble_size == 1
    a = pred.answer
    if task == "depth":
        assert a.shape == (H, W) and a.dtype == np.float32
        ok = np.isfinite(a) if pred.valid is None else pred.valid
        assert ok.any() and (a[ok] >= 0).all()
    elif task == "normals":
        assert a.shape == (H, W, 3) and a.dtype == np.float32
        v = np.ones((H, W), bool) if pred.valid is None else pred.valid
        assert pred.valid is None or pred.valid.shape == (H, W)
        np.testing.assert_allclose(np.linalg.norm(a[v], axis=-1), 1.0, atol=1e-4)
        assert (a[~v] == 0).all()
    elif task == "semantic":
        assert a.shape == (H, W) and a.dtype == np.int32
        assert pred.class_names == list(CLASSES)  # the default palette: every class of the world
        assert set(np.unique(a)) <= set(range(len(CLASSES))) | {255}
    elif task == "instance":
        assert a.shape == (H, W) and a.dtype == np.int32 and (a >= 0).all()
        assert pred.class_names and pred.spec["background"] == (0, 0, 0)
    else:
        n = len(pred.spec["colors"])
        assert a.shape == (n, H, W) and a.dtype == bool
        assert n == (2 if task == "referring" else 1)


@pytest.mark.parametrize("task", ["depth", "normals", "semantic", "instance", "referring"])
def test_answer_is_the_decoded_raw_image_when_no_resize_is_needed(pipe, task):
    img = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    spec = {"expressions": ["the lamp"]} if task == "referring" else {}
    pred = pipe.predict(img, task=task, **spec)
    decoded = openbanana.decode(task, pred.raw, **pred.spec).value
    if task == "normals":
        np.testing.assert_allclose(pred.answer, decoded, atol=1e-5)
    elif task == "depth":
        np.testing.assert_allclose(pred.answer, decoded, rtol=1e-5)
    else:
        np.testing.assert_array_equal(pred.answer, decoded)


def test_seeded_generator_is_deterministic_and_seeds_differ(pipe, scene):
    def run(seed):
        return pipe.edit(scene.rgb, "make the wall blue", generator=torch.Generator().manual_seed(seed))[0].raw

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))
    t2i = pipe.generate(["a bedroom", "a street"], generator=torch.Generator().manual_seed(0))
    assert isinstance(t2i, PipelineOutput) and len(t2i) == 2 and t2i.images[0].shape == (16, 16, 3)
    assert t2i[0].task == "t2i" and t2i[0].answer is None


def test_ensemble_gives_combined_answer_and_uncertainty(pipe, scene):
    g = torch.Generator().manual_seed(0)
    pred = pipe.predict(scene.rgb, task="depth", ensemble_size=3, generator=g)
    assert pred.ensemble_size == 3
    assert pred.uncertainty.shape == (H, W) and pred.uncertainty.dtype == np.float32
    assert (pred.uncertainty[np.isfinite(pred.uncertainty)] >= 0).all()
    assert pred.answer.shape == (H, W)
    labels = pipe.predict(scene.rgb, task="semantic", ensemble_size=2, generator=g)
    assert labels.uncertainty.shape == (H, W) and labels.uncertainty.max() <= 0.5 + 1e-6
    edited = pipe.edit(scene.rgb, "make the wall blue", ensemble_size=3, generator=g)[0]
    assert edited.ensemble_size == 1 and edited.uncertainty is None  # generation draws one sample


def test_mirror_combines_the_answer_for_the_mirrored_input_turned_back(pipe, scene):
    from openbanana.pipeline_ops import combine_answers
    from openbanana.tasks import TASKS

    img = np.asarray(Image.fromarray(scene.rgb).resize((16, 16)))  # the model's frame: no resizing of answers
    for task in ("depth", "normals"):
        plain = pipe.predict(img, task=task)
        flipped = pipe.predict(np.ascontiguousarray(img[:, ::-1]), task=task)
        both = pipe.predict(img, task=task, mirror=True)
        assert plain.ensemble_size == 1 and both.ensemble_size == 2
        np.testing.assert_array_equal(both.raw, plain.raw)  # the first member is the unmirrored one
        t = TASKS.get(task)
        first, back = t.decode(plain.raw), t.decode(t.unmirror(flipped.raw))
        expect, _, _ = combine_answers([first.value, back.value], t.answer_kind, [first.valid, back.valid])
        np.testing.assert_allclose(np.nan_to_num(both.answer), np.nan_to_num(expect), atol=1e-5)
        assert not np.allclose(np.nan_to_num(plain.answer), np.nan_to_num(both.answer), atol=1e-3)  # it counts
        assert both.uncertainty is not None and np.nanmax(both.uncertainty) > 0
    # tasks whose answers do not mirror keep one member; so does the config's default (off)
    assert pipe.predict(img, "segment the chair in red", mirror=True).ensemble_size == 1
    assert pipe.predict(img, task="instance", mirror=True).ensemble_size == 1
    assert pipe.predict(img, task="depth").ensemble_size == 1
    with pytest.raises(TypeError, match="mirror: expected True, False or None"):
        pipe.predict(img, task="depth", mirror="yes")


def test_batches_letterbox_pil_output_and_input_kinds(pipe, scene):
    pil_in = Image.fromarray(scene.rgb)
    float_in = scene.rgb.astype(np.float32) / 255.0
    chw = torch.from_numpy(scene.rgb).permute(2, 0, 1).float() / 255.0
    out = pipe([scene.rgb, pil_in, float_in, chw, scene.rgb[:20]], task="depth", output_type="pil",
               resize_mode="letterbox", batch_size=2)
    assert len(out) == 5 and all(isinstance(im, Image.Image) for im in out.images)
    assert [p.answer.shape for p in out] == [(H, W)] * 4 + [(20, W)]
    np.testing.assert_array_equal(out[0].raw, out[1].raw)  # PIL and array give the same pixels
    batch = pipe(np.stack([scene.rgb, scene.rgb]), task="depth")  # a 4-D array is a batch
    assert len(batch) == 2 and batch[0].answer.shape == (H, W)
    np.testing.assert_array_equal(batch[1].raw, pipe.predict(scene.rgb, task="depth").raw)
    assert not np.array_equal(batch[0].raw, out[0].raw)  # letterbox and stretch frames differ
    # per-image instructions route each image to its own task
    mixed = pipe([scene.rgb, scene.rgb], ["estimate the depth", "surface normals"])
    assert [p.task for p in mixed] == ["depth", "normals"]


def test_bad_inputs_raise_clear_errors(pipe, scene):
    img = scene.rgb
    with pytest.raises(ValueError, match="unknown task 'dept'"):
        pipe.predict(img, task="dept")
    with pytest.raises(ValueError) as e:  # several concerns, one per line
        pipe(img, "estimate the depth", ensemble_size=0, output_type="jpg", num_inference_steps=0)
    msg = str(e.value)
    assert "ensemble_size" in msg and "output_type" in msg and "num_inference_steps" in msg and msg.count("\n") >= 3
    with pytest.raises(TypeError, match="num_inference_steps"):
        pipe(img, "estimate the depth", num_inference_steps=2.5)
    with pytest.raises(ValueError, match="2 instructions for 3 images"):
        pipe([img, img, img], ["estimate the depth", "normals"])
    with pytest.raises(ValueError, match="empty list"):
        pipe([], "estimate the depth")
    with pytest.raises(ValueError, match="give an instruction, a task"):
        pipe(img)
    with pytest.raises(ValueError, match="needs an input image"):
        pipe(None, task="depth")
    with pytest.raises(ValueError, match="needs an instruction"):
        pipe(img, task="edit")
    with pytest.raises(TypeError):
        pipe.predict({"not": "an image"}, "estimate the depth")
    with pytest.raises(TypeError, match="one image"):
        pipe.predict([img, img], "estimate the depth")
    with pytest.raises(ValueError, match="expected an image of shape"):
        pipe.predict(np.zeros((4, 4, 5), np.uint8), "estimate the depth")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pipe.predict(np.full((4, 4, 3), 2.0, np.float32), "estimate the depth")
    with pytest.raises(InstructionError):
        pipe.predict(img, "semantic segmentation of this picture", task="semantic")  # no palette
    with pytest.raises(InstructionError):
        pipe.predict(img, "qwertyuiop")  # no task, no generation verb


def test_load_model_errors(tmp_path, monkeypatch, pipe_dir):
    import openbanana.pipeline as pl

    monkeypatch.setattr(pl, "DEFAULT_MODEL_DIR", tmp_path / "none")
    with pytest.raises(OpenBananaError, match="no default model is installed"):
        load_model()
    with pytest.raises(OpenBananaError, match="does not exist"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OpenBananaError, match="pipeline.json"):
        load_model(tmp_path / "empty")
    broken = tmp_path / "broken"
    OpenBananaPipeline.from_pretrained(pipe_dir).save_pretrained(broken)
    (broken / "backend" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(OpenBananaError, match="could not load"):
        load_model(broken)
    (broken / "pipeline.json").write_text('{"backend": "tiny", "resolution": 12}')
    with pytest.raises(OpenBananaError, match="not a valid pipeline config"):
        load_model(broken)
    assert isinstance(load_model(pipe_dir), OpenBananaPipeline)
    (broken / "pipeline.json").write_text('{"backend": "no-such-backend", "resolution": 16}')
    with pytest.raises(ValueError, match="unknown backend 'no-such-backend'"):
        load_model(broken)


# ------------------------------------------------------------------------ valid masks, empty answers
_TASK_SPECS = {"referring": {"expressions": ["the lamp"]}, "reasoning": {"expressions": ["what gives light?"]}}


@pytest.fixture
def painter(monkeypatch, pipe):
    """``painter(rgb)``: the pipeline's backend draws ``rgb`` everywhere (decoding stays real)."""

    def use(rgb):
        def sample(cond, prompts, *, height, width, **_):
            x = torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1.0
            return x.view(1, 3, 1, 1).expand(len(prompts), 3, height, width).clone()

        monkeypatch.setattr(pipe.backend, "sample", sample)
        return pipe

    return use


@pytest.mark.parametrize("task", ["depth", "normals", "semantic", "instance", "referring", "reasoning"])
def test_valid_is_a_bool_mask_for_every_task(pipe, scene, task):
    pred = pipe.predict(scene.rgb, task=task, **_TASK_SPECS.get(task, {}))
    assert isinstance(pred.valid, np.ndarray) and pred.valid.dtype == bool and pred.valid.shape == (H, W)
    a = pred.answer
    if task == "depth":
        np.testing.assert_array_equal(pred.valid, np.isfinite(a) & (np.nan_to_num(a, nan=-1.0) >= 0))
        assert pred.valid.any()
    elif task == "normals":
        np.testing.assert_array_equal(pred.valid, np.linalg.norm(a, axis=-1) > 0.5)
    else:
        assert pred.valid.all()  # labels, ids and masks answer every pixel


def test_depth_valid_marks_the_invalid_pixels_nan(pipe, scene):
    pred = pipe.predict(scene.rgb, task="depth", ensemble_size=2, num_inference_steps=1,
                        generator=torch.Generator().manual_seed(0))
    assert np.isnan(pred.answer[~pred.valid]).all() and np.isfinite(pred.answer[pred.valid]).all()


def test_generation_has_no_valid_mask(pipe):
    assert pipe.generate("a red ball").predictions[0].valid is None


@pytest.mark.parametrize(
    ("rgb", "task", "empty", "reason"),
    [
        ((0, 0, 0), "semantic", True, f"every pixel is void: none of the {len(CLASSES)} class colours was drawn"),
        ((0, 0, 0), "instance", True, "no instance: every pixel is background"),
        ((0, 0, 0), "referring", True, "no pixel has the target colour (255, 0, 0)"),
        ((0, 0, 0), "reasoning", True, "no pixel has the target colour (255, 0, 0)"),
        ((0, 0, 0), "normals", True, "no pixel has a valid normal"),
        ((0, 0, 0), "depth", False, None),  # black is 0 m, a valid depth
        ((255, 0, 0), "referring", False, None),
        ((128, 64, 0), "semantic", False, None),  # the floor's colour
    ],
)
def test_empty_answers(painter, rgb, task, empty, reason):
    pred = painter(rgb).predict(np.full((H, W, 3), 90, np.uint8), task=task, **_TASK_SPECS.get(task, {}))
    assert pred.empty is empty and pred.empty_reason == reason


def test_one_empty_mask_of_several_is_named_but_the_answer_is_not_empty(painter):
    pred = painter((255, 0, 0)).predict(np.full((H, W, 3), 90, np.uint8),
                                        'Highlight "the car" in red and "the dog" in blue.')
    assert pred.answer[0].all() and not pred.answer[1].any()
    assert pred.empty is False
    assert pred.empty_reason == "no pixel for 'the dog' (1 of 2 masks empty)"


def test_a_mask_task_without_targets_says_what_to_give(pipe, scene):
    from openbanana.pipeline import resolve_request

    for task in ("referring", "reasoning"):
        with pytest.raises(InstructionError, match=rf"^task '{task}' needs an instruction naming what to segment"):
            pipe.predict(scene.rgb, task=task)
    assert resolve_request(None, "depth", True) == pipe.resolve(None, "depth", True)
    assert resolve_request(None, "referring", True, {"expressions": ["the lamp"]})[1].startswith(
        'Highlight "the lamp" in red')


def test_a_task_decoding_masks_must_return_them_as_n_h_w():
    from openbanana.pipeline import _split_decoded
    from openbanana.tasks import Answer

    masks = np.zeros((2, 4, 4), bool)
    answer, valid = _split_decoded(Answer("referring", "masks", masks))
    assert answer.shape == (2, 4, 4) and valid is None
    with pytest.raises(ValueError, match=r"expected \(N, H, W\)"):
        _split_decoded(Answer("referring", "masks", masks[0]))  # never silently read as one mask
