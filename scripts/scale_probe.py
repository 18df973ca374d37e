"""Can scale be read from these pictures at all? Probes for a synthetic scene's log median depth.

`scripts/depth_scale.py` shows that the shipped model answers every room at about the same
distance. This script asks whether that is the pictures' fault or the model's, with three
predictors of ``log(median true depth)`` per scene, scored on the benchmark's own scenes:

- ``constant``: the training scenes' mean (per scene kind), the floor any predictor must beat;
- ``model``: the median of the model's own depth answer;
- ``linear probe``: ridge regression on the model's pooled bottleneck features (the middle block's
  output, mean and max over positions), computed while it answers the depth instruction. Shows
  whether the trunk already carries the scale its answer ignores;
- ``regressor``: a small CNN trained from scratch for ``--minutes`` on the training scenes' images
  alone (how far a network gets at reading scale from pixels in a few CPU minutes).

For each predictor: R^2 and the RMS error of the log median (per kind), and metric delta1 when the
model's depth map is rescaled to that predictor's median (``model`` leaves it as it is). An
oracle row rescales it to the true median. Everything is deterministic for fixed arguments.

    python scripts/scale_probe.py [--model DIR] [--train 3000] [--n 64] [--minutes 6]

Prints JSON lines (one per predictor and kind), then a Markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def _scene_record(args: tuple[int, str, int]) -> dict:
    """Image, kind and true depth of one scene (picklable for the worker pool)."""
    from openbanana.data.synthetic.generate import render_scene
    from openbanana.evaluation.scoring import SYNTHETIC_DEPTH_RANGE_M
    from openbanana.metrics.depth import depth_valid_mask

    seed, split, size = args
    sc = render_scene(seed, split=split, size=size, language=False)
    mask = depth_valid_mask(sc.depth_m, None, *SYNTHETIC_DEPTH_RANGE_M)
    med = float(np.median(sc.depth_m[mask])) if mask.any() else float("nan")
    return {"rgb": sc.rgb, "depth_m": sc.depth_m, "kind": sc.kind, "log_median": float(np.log(med))}


def render(seeds: range, split: str, size: int, workers: int) -> list[dict]:
    """Scenes ``seeds`` of ``split`` with a valid depth (rendered by ``workers`` processes; in this
    one for ``workers <= 1``)."""
    jobs = [(s, split, size) for s in seeds]
    if workers <= 1:
        recs = [_scene_record(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers) as ex:
            recs = list(ex.map(_scene_record, jobs, chunksize=16))
    return [r for r in recs if np.isfinite(r["log_median"])]


def model_features(pipe, recs: list[dict], batch_size: int = 16) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pooled middle-block features ``[N, 2C]`` of the model answering the depth instruction, and
    its depth maps (metres)."""
    net = pipe.backend.net
    grabbed: list = []
    hook = net.mid2.register_forward_hook(lambda m, i, o: grabbed.append(o.detach().float()))
    feats, maps = [], []
    try:
        for s in range(0, len(recs), batch_size):
            chunk = recs[s:s + batch_size]
            grabbed.clear()
            out = pipe(images=[r["rgb"] for r in chunk], task="depth", batch_size=batch_size)
            h = grabbed[-1]  # [B, C, h, w]
            feats.append(np.concatenate([h.mean((2, 3)).numpy(), h.amax((2, 3)).numpy()], 1))
            maps += [p.answer for p in out.predictions]
    finally:
        hook.remove()
    return np.concatenate(feats), maps


def ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Standardised ridge regression: (mean, scale, weights+bias) fitted on ``x [N, F]``, ``y [N]``."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    a = z.T @ z + lam * np.eye(z.shape[1])
    w = np.linalg.solve(a, z.T @ (y - y.mean()))
    return mu, sd, np.r_[w, y.mean()]


def ridge_predict(model: tuple, x: np.ndarray) -> np.ndarray:
    mu, sd, w = model
    return ((x - mu) / sd) @ w[:-1] + w[-1]


def train_regressor(recs: list[dict], minutes: float, seed: int = 0):
    """A small CNN (~0.6 M parameters) trained from scratch to regress the log median from the image."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    chans = [3, 32, 64, 96, 128, 160]
    layers: list[nn.Module] = []
    for cin, cout in itertools.pairwise(chans):  # 128 -> 64 -> 32 -> 16 -> 8 -> 4 px
        layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
                   nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU()]
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(chans[-1], 1))
    x = torch.from_numpy(np.stack([r["rgb"] for r in recs])).permute(0, 3, 1, 2).float() / 127.5 - 1
    y = torch.tensor([r["log_median"] for r in recs], dtype=torch.float32)
    y_mu = float(y.mean())
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    start, steps = time.time(), 0
    while time.time() - start < minutes * 60:
        idx = torch.randint(len(recs), (32,), generator=g)
        xb = x[idx]
        flip = torch.rand(32, generator=g) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)  # a mirrored room is as deep
        loss = (net(xb).squeeze(1) + y_mu - y[idx]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    net.eval()

    def predict(rs: list[dict]) -> np.ndarray:
        with torch.no_grad():
            xs = torch.from_numpy(np.stack([r["rgb"] for r in rs])).permute(0, 3, 1, 2).float() / 127.5 - 1
            return net(xs).squeeze(1).numpy() + y_mu

    return predict, steps


def rescaled_delta1(maps: list[np.ndarray], recs: list[dict], log_medians: np.ndarray | None) -> list[float]:
    """Metric delta1 of each depth map, after rescaling it so its median is ``exp(log_medians[i])``
    (unchanged for None)."""
    from openbanana.evaluation.scoring import SYNTHETIC_DEPTH_RANGE_M
    from openbanana.metrics.depth import depth, depth_valid_mask

    out = []
    for i, (m, r) in enumerate(zip(maps, recs)):
        pred = np.asarray(m, np.float64)
        if log_medians is not None:
            mask = depth_valid_mask(r["depth_m"], None, *SYNTHETIC_DEPTH_RANGE_M)
            pred = pred * np.exp(log_medians[i]) / np.median(pred[mask])
        out.append(depth(pred.astype(np.float32), r["depth_m"], align="none", min_depth_m=SYNTHETIC_DEPTH_RANGE_M[0],
                         max_depth_m=SYNTHETIC_DEPTH_RANGE_M[1])["delta1"])
    return out


def score(name: str, pred: np.ndarray, recs: list[dict], maps: list[np.ndarray], use_pred: bool = True) -> list[dict]:
    """Per kind (and all): R^2 and RMS error of ``pred`` against the true log medians, and delta1 of
    the rescaled maps."""
    y = np.array([r["log_median"] for r in recs])
    d1 = np.array(rescaled_delta1(maps, recs, pred if use_pred else None))
    rows = []
    kinds = np.array([r["kind"] for r in recs])
    for kind in ["all", *sorted(set(kinds))]:
        sel = np.ones(len(y), bool) if kind == "all" else kinds == kind
        err = pred[sel] - y[sel]
        var = ((y[sel] - y[sel].mean()) ** 2).sum()
        rows.append({"predictor": name, "kind": kind, "n": int(sel.sum()),
                     "r2": round(float(1 - (err ** 2).sum() / var), 3), "rms_log": round(float(np.sqrt((err ** 2).mean())), 3),
                     "delta1": round(float(d1[sel].mean()), 4)})
    return rows


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.evaluation.scoring import SYNTHETIC_DEPTH_RANGE_M
    from openbanana.metrics.depth import depth_valid_mask
    from openbanana.pipeline import load_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap)
    ap.add_argument("--train", type=int, default=3000, help="training scenes for the probes")
    ap.add_argument("--minutes", type=float, default=6.0, help="CPU minutes for the from-scratch regressor")
    ap.add_argument("--ridge", type=float, default=10.0, help="ridge penalty of the linear probe")
    ap.add_argument("--workers", type=int, default=2, help="rendering processes (1: render in this one)")
    args = ap.parse_args(argv)
    if args.n < 4 or args.train < 16:
        ap.error("--n must be >= 4 and --train >= 16")
    pipe = load_model(args.model)
    if not hasattr(getattr(pipe.backend, "net", None), "mid2"):
        ap.error(f"a {pipe.config.backend!r} model has no UNet middle block to probe; this script reads tiny models")
    size = pipe.resolution
    train = render(range(1_000_000, 1_000_000 + args.train), "train", size, args.workers)
    test = render(range(args.n), args.split, size, args.workers)
    y_train = np.array([r["log_median"] for r in train])
    kinds_train = np.array([r["kind"] for r in train])

    f_train, _ = model_features(pipe, train)
    f_test, maps = model_features(pipe, test)
    constant = np.array([y_train[kinds_train == r["kind"]].mean() for r in test])
    own = np.array([np.log(np.median(np.asarray(m)[depth_valid_mask(r["depth_m"], None, *SYNTHETIC_DEPTH_RANGE_M)]))
                    for m, r in zip(maps, test)])
    probe = ridge_predict(ridge(f_train, y_train, args.ridge), f_test)
    regress, steps = train_regressor(train, args.minutes)
    truth = np.array([r["log_median"] for r in test])
    rows = (score("constant (training mean per kind)", constant, test, maps)
            + score("model's own answer", own, test, maps, use_pred=False)
            + score("linear probe on the model's features", probe, test, maps)
            + score(f"CNN regressor, {args.minutes:g} min from scratch ({steps} steps)", regress(test), test, maps)
            + score("oracle (true median)", truth, test, maps))
    for r in rows:
        print(json.dumps(r))
    print("\n| predictor of log median depth | scenes | n | R^2 | RMS (log) | delta1 of the rescaled map |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['predictor']} | {r['kind']} | {r['n']} | {r['r2']:.2f} | {r['rms_log']:.3f} | {r['delta1']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
