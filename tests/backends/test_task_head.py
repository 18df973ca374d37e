"""The plain task head: its targets are the mixture's drawings read back, it learns, it answers in the
task's colour code, it round-trips through files, and it refuses what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from openbanana.backends import BACKENDS, GeneratorBackend
from openbanana.backends.task_head import HEADS, LabelsHead, TaskHeadBackend, TaskHeadConfig, mask_count
from openbanana.backends.tiny import TinyConfig
from openbanana.batch import collate, unit_to_u8
from openbanana.data.mixture import MixtureConfig, make_sample
from openbanana.data.synthetic.classes import CLASSES
from openbanana.errors import InstructionError
from openbanana.tasks import TASKS

MICRO = {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1], "emb_dim": 32,
         "text": {"dim": 32, "layers": 1, "heads": 2}}
S = 32


def _head(task: str, seed: int = 0) -> TaskHeadBackend:
    torch.manual_seed(seed)
    return TaskHeadBackend.from_config({"task": task, "backbone": MICRO, "classes": list(CLASSES)})


def _batch(task: str, n: int = 4):
    cfg = MixtureConfig(size=S, vision_share=1.0, vision_weights={task: 1.0})
    return collate([make_sample(cfg, 0, i) for i in range(n)])


def test_registered_and_protocol():
    assert BACKENDS.get("task-head") is TaskHeadBackend
    assert isinstance(_head("depth"), GeneratorBackend)
    assert set(HEADS.names()) == {"depth", "normals", "labels", "masks"}


@pytest.mark.parametrize("task,channels", [("depth", 1), ("normals", 3), ("semantic", len(CLASSES)),
                                           ("referring", 3), ("reasoning", 3)])
def test_output_channels(task, channels):
    m = _head(task)
    assert m.net.cfg.out_channels == channels and m.net.cfg.prediction == "v"
    b = _batch(task, 2)
    out = m._outputs(b.cond, b.has_cond, b.prompts)
    assert out.shape == (2, channels, S, S)


def test_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="no plain head"):
        TaskHeadConfig(task="instance")
    with pytest.raises(ValueError, match="unknown task"):
        TaskHeadConfig(task="edges")
    with pytest.raises(ValueError, match="needs classes"):
        TaskHeadConfig(task="semantic")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['size'\] in the task head's config"):
        TaskHeadBackend.from_config({"task": "depth", "size": "tiny-xs"})
    with pytest.raises(ValueError, match="out_channels"):
        TinyConfig(out_channels=1, prediction="x")
    m = _head("depth")
    with pytest.raises(ValueError, match="cannot generate"):
        m.sample(None, ["a red cube"], height=S, width=S)
    b = _batch("normals", 2)
    with pytest.raises(ValueError, match="no sample of its task"):
        m.training_loss(b)
    sem = _head("semantic")
    with pytest.raises(InstructionError):  # a semantic instruction must name its palette
        sem.sample(b.cond, ["segment the image", "segment the image"], height=S, width=S)


def test_the_perfect_answer_has_zero_loss():
    """The loss of each head kind is 0 at the target itself: the targets are the decoded drawings."""
    for task in ("depth", "normals", "semantic", "referring"):
        m = _head(task)
        b = _batch(task, 2)
        t = TASKS.get(task)
        drawing = unit_to_u8(b.target[0]).permute(1, 2, 0).numpy()
        spec = t.spec_from_instruction(b.prompts[0])
        answer = t.decode(drawing, **spec)
        head = HEADS.get(t.answer_kind)
        if task == "depth":
            out = torch.log(torch.as_tensor(answer.value))[None]
            assert head.loss(out, answer, spec, m.config).item() == pytest.approx(0.0, abs=1e-6)
        elif task == "normals":
            out = torch.as_tensor(answer.value).permute(2, 0, 1) * 3.0  # any length: normalised
            assert head.loss(out, answer, spec, m.config).item() == pytest.approx(0.0, abs=1e-5)
        elif task == "semantic":
            ids = LabelsHead._palette_ids(spec, t, m.config)
            labels = np.asarray(answer.value)
            out = torch.full((len(CLASSES), S, S), -30.0)
            for label, ch in enumerate(ids):
                out[ch][torch.as_tensor(labels == label)] = 30.0
            absent = next(i for i in range(len(CLASSES)) if i not in ids)  # a class the palette lacks
            out[absent][torch.as_tensor(labels == 255)] = 30.0  # -> void in the answer
            assert head.loss(out, answer, spec, m.config).item() == pytest.approx(0.0, abs=1e-6)
            assert (head.answer(out, spec, t, m.config) == labels).all()  # void stays void
        else:
            masks = torch.as_tensor(np.asarray(answer.value))
            out = torch.where(masks, 30.0, -30.0).float()
            assert head.loss(out, answer, spec, m.config).item() == pytest.approx(0.0, abs=1e-6)
            assert (head.answer(torch.cat([out, out]), spec, t, m.config) == masks.numpy()).all()
            assert mask_count(t, spec) == masks.shape[0]


@pytest.mark.parametrize("task", ["depth", "semantic", "referring"])
def test_learns_a_fixed_batch(task):
    m = _head(task)
    b = _batch(task)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = m.training_loss(b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_answers_in_the_task_colour_code_and_round_trips(tmp_path):
    m = _head("depth", seed=1)
    with torch.no_grad():  # a live output layer: its answer depends on the image
        m.net.out.weight.normal_(0, 0.05)
    b = _batch("depth", 2)
    x = m.sample(b.cond, b.prompts, height=S, width=S, num_inference_steps=8, one_step=False)
    assert x.shape == (2, 3, S, S) and x.min() >= -1 and x.max() <= 1
    # the drawing decodes back to the head's own depth (8-bit code: ~1 % error)
    t = TASKS.get("depth")
    spec = t.spec_from_instruction(b.prompts[0])
    decoded = t.decode(unit_to_u8(x[0]).permute(1, 2, 0).numpy(), **spec).value
    with torch.no_grad():
        own = HEADS.get("depth").answer(m._outputs(b.cond, b.has_cond, b.prompts)[0], spec, t, m.config)
    assert np.median(np.abs(decoded / own - 1)) < 0.02
    m.save_pretrained(tmp_path / "h")
    again = TaskHeadBackend.from_pretrained(tmp_path / "h")
    assert again.config == m.config
    assert torch.equal(again.sample(b.cond, b.prompts, height=S, width=S), x)
    with pytest.raises(ValueError, match="not a 'task-head'"):
        (tmp_path / "t").mkdir()
        BACKENDS.get("tiny").from_config(MICRO).save_pretrained(tmp_path / "t")
        TaskHeadBackend.from_pretrained(tmp_path / "t")
