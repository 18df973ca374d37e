"""Cityscapes scoring with the official ``cityscapesscripts`` evaluator.

Each prediction (train ids, resized to the label map) is written as a label-id PNG to the run's
work folder; at the end ``evalPixelLevelSemanticLabeling.evaluateImgLists`` scores them against the
official ``*_gtFine_labelIds.png`` files. The reported ``miou`` is the official
``averageScoreClasses``; our own confusion-matrix mIoU is kept as ``miou_openbanana`` and the two
must agree to 1e-6 (a disagreement is an error, never a silent choice).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from openbanana.data.sources.base import Target
from openbanana.data.sources.cityscapes import CLASS_NAMES, TRAIN_TO_LABEL
from openbanana.evaluation.resize import resize_nearest
from openbanana.evaluation.scoring import SemanticScorer, _answer_array


def _official_module():
    try:
        from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev
    except ImportError:
        raise ImportError(
            "Cityscapes is scored with cityscapesscripts: pip install 'openbanana[eval]'"
        ) from None
    return ev


def official_miou(pred_pngs: list[str], gt_pngs: list[str]) -> tuple[float, dict[str, float]]:
    """Run the official evaluator; returns ``(averageScoreClasses, {class name: IoU})``."""
    ev = _official_module()
    args = ev.args
    args.evalInstLevelScore = False
    args.evalPixelAccuracy = False
    args.JSONOutput = False
    args.quiet = True
    res = ev.evaluateImgLists(pred_pngs, gt_pngs, args)
    return float(res["averageScoreClasses"]), {n: float(res["classScores"][n]) for n in CLASS_NAMES}


class CityscapesScorer(SemanticScorer):
    """19-class mIoU scored by ``cityscapesscripts`` (see the module docstring).

    Args:
        workdir: where prediction PNGs go (shared by all processes); None = a temporary folder.
    """

    def __init__(self, workdir: Path | None = None):
        super().__init__(list(CLASS_NAMES))
        _official_module()  # fail before inference if the official tool is missing
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="cityscapes-"))
        (self.workdir / "pred_labelIds").mkdir(parents=True, exist_ok=True)

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "scored_with": "cityscapesscripts evalPixelLevelSemanticLabeling"}

    def update(self, index: int, target: Target, answer: Any) -> dict[str, float]:
        gt_path = target.meta.get("gt_path")
        if not gt_path:
            raise ValueError(
                "Cityscapes target: expected meta['gt_path'] (the official labelIds file), got none"
            )
        out = super().update(index, target, answer)
        pred = resize_nearest(_answer_array(answer, "semantic answer"), np.asarray(target.gt).shape[:2])
        png = self.workdir / "pred_labelIds" / f"{index:06d}.png"
        Image.fromarray(TRAIN_TO_LABEL[pred.astype(np.int64)]).save(png)
        conf, missed = self.entries[-1][2]
        self.entries[-1] = (index, target.key, (conf, missed, str(png), str(gt_path)))
        return out

    def compute(self) -> dict[str, Any]:
        plain = SemanticScorer(self.class_names, self.ignore_index)
        plain.entries = [(i, k, p[:2]) for i, k, p in self.entries]
        ours = plain.compute()
        miou, per_class = official_miou(
            [p[2] for _, _, p in self.entries], [p[3] for _, _, p in self.entries]
        )
        if not (np.isnan(miou) and np.isnan(ours["miou"])) and abs(miou - ours["miou"]) > 1e-6:
            raise RuntimeError(f"cityscapesscripts mIoU {miou} disagrees with ours {ours['miou']}")
        return {**ours, "miou": miou, "miou_openbanana": ours["miou"], "iou_per_class": per_class}
