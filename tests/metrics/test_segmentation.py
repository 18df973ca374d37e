import math

import numpy as np
import pytest
import torch
from PIL import Image

import openbanana.metrics as M


def _cityscapes_official(pred_train, gt_train, tmp_path):
    """Run cityscapesscripts on labelId PNGs made from trainId maps; returns (classScores, average)."""
    csl = pytest.importorskip("cityscapesscripts.helpers.labels")
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    lut = np.zeros(256, np.uint8)  # trainId -> labelId; 255 -> 0 ("unlabeled", ignored)
    for t, lab in csl.trainId2label.items():
        if 0 <= t < 19:
            lut[t] = lab.id
    preds, gts = [], []
    for i, (p, g) in enumerate(zip(pred_train, gt_train)):
        pp, gp = tmp_path / f"p{i}.png", tmp_path / f"g{i}_gtFine_labelIds.png"
        Image.fromarray(lut[p]).save(pp)
        Image.fromarray(lut[g]).save(gp)
        preds.append(str(pp))
        gts.append(str(gp))
    args = ev.args
    args.evalInstLevelScore = False
    args.evalPixelAccuracy = False
    args.JSONOutput = False
    args.quiet = True
    res = ev.evaluateImgLists(preds, gts, args)
    names = [csl.trainId2label[t].name for t in range(19)]
    return [res["classScores"][n] for n in names], res["averageScoreClasses"]


def _random_maps(seed, n=3, shape=(24, 32)):
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(n):
        g = rng.integers(0, 14, shape).astype(np.uint8)  # classes 14..18 absent from gt
        g[rng.random(shape) < 0.1] = 255
        p = g.copy()
        flip = rng.random(shape) < 0.3
        p[flip] = rng.integers(0, 17, int(flip.sum()))  # 17, 18 absent everywhere; 14..16 only predicted
        p[rng.random(shape) < 0.05] = 255  # "no class" predictions
        gts.append(g)
        preds.append(p)
    return preds, gts


@pytest.mark.parametrize("seed", [0, 1])
def test_miou_equals_cityscapesscripts(seed, tmp_path):
    preds, gts = _random_maps(seed)
    ev = M.SemanticEvaluator(19)
    for p, g in zip(preds, gts):
        ev.update(p, g)
    ours = ev.compute()
    ref_iou, ref_miou = _cityscapes_official(preds, gts, tmp_path)
    assert abs(ours["miou"] - ref_miou) < 1e-6
    for a, b in zip(ours["iou"], ref_iou):
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-6
    assert math.isnan(ours["iou"][17]) and math.isnan(ours["iou"][18])
    assert ours["iou"][15] == 0.0  # predicted only: defined and zero


def test_hand_computed_iou_and_accuracy():
    gt = np.array([[0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 0]])
    ev = M.SemanticEvaluator(3)
    ev.update(torch.from_numpy(pred), gt)
    out = ev.compute()
    assert out["iou"][0] == pytest.approx(1 / 2)  # tp 1, fn 1; the void pixel is not a fp
    assert out["iou"][1] == pytest.approx(1 / 2)  # tp 1, fp 1
    assert math.isnan(out["iou"][2])
    assert out["miou"] == pytest.approx(0.5)
    assert out["pixel_accuracy"] == pytest.approx(2 / 3)
    assert out["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_merge_equals_single_pass():
    preds, gts = _random_maps(3, n=4)
    a, b, c = M.SemanticEvaluator(19), M.SemanticEvaluator(19), M.SemanticEvaluator(19)
    for i, (p, g) in enumerate(zip(preds, gts)):
        a.update(p, g)
        (b if i % 2 else c).update(p, g)
    b.merge(c)
    assert a.compute()["confusion"] == b.compute()["confusion"]


@pytest.mark.parametrize(
    "pred,gt,exc,msg",
    [
        (np.zeros((2, 2), np.int64), np.zeros((2, 3), np.int64), ValueError, "same shape"),
        (np.zeros((2, 2), np.float32), np.zeros((2, 2), np.int64), TypeError, "integer"),
        (np.full((2, 2), 7), np.zeros((2, 2), np.int64), ValueError, "0..2"),
        (np.zeros((2, 2), np.int64), np.full((2, 2), -1), ValueError, "labels"),
    ],
)
def test_semantic_bad_inputs(pred, gt, exc, msg):
    with pytest.raises(exc, match=msg):
        M.SemanticEvaluator(3).update(pred, gt)


def test_referring_ciou_giou_hand_computed():
    ev = M.ReferringEvaluator()
    g1 = np.zeros((4, 4), bool)
    g1[:2, :2] = True  # 4 px
    p1 = np.zeros((4, 4), bool)
    p1[:2, :3] = True  # 6 px, I=4, U=6
    g2 = np.zeros((4, 4), bool)
    g2[3, 3] = True  # I=0, U=2
    p2 = np.zeros((4, 4), bool)
    p2[0, 0] = True
    assert ev.update(p1, g1) == [pytest.approx(4 / 6)]
    ev.update(torch.from_numpy(np.stack([p2, np.zeros_like(p2)])), np.stack([g2, np.zeros_like(g2)]))
    out = ev.compute()
    assert out["n"] == 3
    assert out["ciou"] == pytest.approx(4 / 8)
    assert out["giou"] == pytest.approx((4 / 6 + 0 + 1) / 3)  # empty union counts as IoU 1


def test_referring_bad_inputs():
    ev = M.ReferringEvaluator()
    with pytest.raises(ValueError, match="shape"):
        ev.update(np.zeros((2, 2), bool), np.zeros((2, 3), bool))
    with pytest.raises(TypeError, match="bool"):
        ev.update(np.zeros((2, 2), np.float32), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="0/1"):
        ev.update(np.full((2, 2), 3), np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="update"):
        ev.compute()
