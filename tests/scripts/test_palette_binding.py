"""scripts/palette_binding.py tells a model that reads a palette from one that memorised colours."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from script_loader import load_script

from openbanana.backends.tiny import TinyBackend, TinyConfig
from openbanana.data.sources.synthetic import SyntheticSource
from openbanana.data.synthetic.targets import synthetic_palette
from openbanana.pipeline import OpenBananaPipeline
from openbanana.pipeline_config import PipelineConfig
from openbanana.tasks import TASKS

binding = load_script("palette_binding")

SIZE = 32
FIXED = synthetic_palette()


class Oracle:
    """Answers semantic questions about the first synthetic val scenes from their truth; with
    ``memorised``, it knows classes only by their fixed colours (any other colour: class 0)."""

    resolution = SIZE

    def __init__(self, memorised: bool, n: int = 4) -> None:
        source = SyntheticSource(split="val", size=SIZE)
        records = [source[i] for i in range(n)]
        self.truth = {r.image.tobytes(): np.asarray(next(t for t in r.targets if t.task == "semantic").gt)
                      for r in records}
        self.memorised = memorised

    def predict(self, image, instruction, task):
        assert task == "semantic"
        palette = TASKS.get("semantic").spec_from_instruction(instruction)["palette"]
        names = list(FIXED)
        classes = self.truth[np.asarray(image).tobytes()]
        labels = np.full(classes.shape, 255, np.int64)
        for j, (name, color) in enumerate(palette.items()):
            known = not self.memorised or tuple(color) == FIXED[name]
            labels[classes == names.index(name)] = j if known else 0
        return SimpleNamespace(answer=labels)


def test_an_oracle_reads_palettes_and_a_memoriser_does_not():
    reader = binding.binding_accuracy(Oracle(memorised=False), k=3, n=4)
    assert reader["scenes"] >= 2 and reader["chance"] == pytest.approx(1 / 3, abs=1e-4)
    assert reader["fixed"] == 1.0 and reader["random"] == 1.0
    memoriser = binding.binding_accuracy(Oracle(memorised=True), k=3, n=4)
    assert memoriser["fixed"] == 1.0 and memoriser["random"] < 0.8  # only the first class's pixels right
    assert binding.binding_accuracy(Oracle(memorised=False), k=99, n=4)["scenes"] == 0  # no scene has 99


def test_command_line_on_a_real_model(tmp_path, capsys):
    torch.manual_seed(0)
    micro = {"size": "tiny-xs", "channels": 8, "channel_mults": [1, 2], "attn_levels": [1], "heads": 2,
             "emb_dim": 32, "text": {"dim": 32, "layers": 1, "heads": 2, "tokenizer": "words", "buckets": 64}}
    model = OpenBananaPipeline(TinyBackend(TinyConfig.from_dict(micro)),
                               PipelineConfig(backend="tiny", resolution=SIZE)).save_pretrained(tmp_path / "m")
    assert binding.main(["--model", str(model), "--n", "2", "--ks", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = json.loads(lines[0])
    assert row["k"] == 2 and row["scenes"] == 2 and 0.0 <= row["random"] <= 1.0 and 0.0 <= row["fixed"] <= 1.0
    assert "| 2 | 2 | 0.500 |" in "\n".join(lines)
    for bad in (["--ks", "two"], ["--ks", "0"], ["--n", "0"], ["--model", str(tmp_path)]):
        with pytest.raises(SystemExit) as e:
            binding.main(bad)
        assert e.value.code == 2
