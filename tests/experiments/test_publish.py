"""scripts/publish_ablation.py copies a report and exactly the files it links to."""

from __future__ import annotations

import pytest
from script_loader import load_script

publish_ablation = load_script("publish_ablation")


def test_copies_the_report_and_its_links(tmp_path):
    out, dest = tmp_path / "out", tmp_path / "docs"
    (out / "plots").mkdir(parents=True)
    (out / "train" / "job").mkdir(parents=True)
    (out / "plots" / "a.png").write_bytes(b"png")
    (out / "train" / "job" / "samples.png").write_bytes(b"sheet")
    (out / "train" / "job" / "model.safetensors").write_bytes(b"weights")  # not linked: not copied
    (out / "summary.json").write_text("{}")
    (out / "report.md").write_text("# r\n![a](plots/a.png)\n| x | ![](train/job/samples.png) |\n")
    copied = publish_ablation.publish(out, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in copied) == [
        "plots/a.png", "report.md", "summary.json", "train/job/samples.png"]
    assert (dest / "train" / "job" / "samples.png").read_bytes() == b"sheet"
    assert not (dest / "train" / "job" / "model.safetensors").exists()


def test_refuses_a_folder_without_a_report_or_with_a_broken_link(tmp_path):
    with pytest.raises(SystemExit, match="--report-only"):
        publish_ablation.publish(tmp_path, tmp_path / "d")
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "report.md").write_text("![a](plots/missing.png)")
    with pytest.raises(SystemExit, match="missing"):
        publish_ablation.publish(tmp_path, tmp_path / "d")
