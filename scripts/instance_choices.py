"""What does a model paint on the pixels of the instances it is asked for? For the first ``n``
synthetic scenes with an instance target, asked with the benchmark's instruction (instances of one
class on black), over the pixels of those instances:

- ``exact``: share painted within the decoder's tolerance (14 in RGB) of the colour the model's
  training targets give that instance (``--scheme``, by default the one in the model's
  ``train_config.json``: ``rank``, the i-th from the left gets the i-th colour of
  ``instance_colors``; ``position``, the colour of the grid cell of its centroid);
- ``coded``: share within that tolerance of any of the code's first 16 colours;
- ``black``: share within it of the background (black), i.e. lost;
- and, for a model with a colour-copy head, the head's mean weight on keeping its own output, on
  named colours (the background) and on its colour vocabulary (``TinyConfig.color_copy_vocab``),
  and on the vocabulary slot of the instance's own colour (where the vocabulary holds it), and
  the share of those pixels whose heaviest vocabulary slot is that one (``own_top``), and the
  shares of the instance pixels whose heaviest option is keep, a named colour (the background) or
  each vocabulary colour (the most chosen one is printed at the end).

    python scripts/instance_choices.py [--model DIR] [--n 16] [--split val] [--scheme rank|position]

Prints one JSON line per scene, then the means as a Markdown table row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

TOL = 14.0
N_CODE = 16


def trained_scheme(model_dir: Path) -> str:
    """The instance colour scheme of the last stage in the ``train_config.json`` of ``model_dir``,
    or of its run when it is a snapshot (``<run>/snapshots/step_N``); ``rank`` when there is none or
    it has no such field (runs before the field existed used it)."""
    model_dir = Path(model_dir)
    for path in (model_dir / "train_config.json", model_dir.parent.parent / "train_config.json"):
        if path.is_file() and (path.parent == model_dir or model_dir.parent.name == "snapshots"):
            stages = json.loads(path.read_text()).get("stages") or [{}]
            return stages[-1].get("data", {}).get("instance_scheme", "rank")
    return "rank"


def vocab_colors(head) -> np.ndarray:
    """The colour-copy head's vocabulary as 0-255 colours, float ``(N, 3)``."""
    return np.round((head.vocab_rgb.float().cpu().numpy() + 1) * 127.5)


def scene_choices(pipe, record, target, scheme: str = "rank") -> dict | None:
    """The measures above for one instance target, or None when it has no instance pixel."""
    from openbanana.data.synthetic.targets import canonical_instance_order
    from openbanana.tasks import TASKS
    from openbanana.tasks.codecs.instances import encode_instances, instance_colors

    gt = np.asarray(target.gt)
    ids = [int(i) for i in np.unique(gt) if i > 0]
    if not ids:
        return None
    head = getattr(pipe.backend.net, "copy", None)
    seen: list = []
    handle = None
    if head is not None:
        handle = head.register_forward_hook(lambda m, i, o: seen.append(m.weights(*i[1:4], i[5])) or None)
    try:
        pred = pipe.predict(record.image, TASKS.get("instance").instruction(None, **target.spec), task="instance")
    finally:
        if handle is not None:
            handle.remove()
    size = pred.raw.shape[:2]
    if gt.shape != size:  # the benchmark's truth is at the image's size; the model's raw answer at its own
        from PIL import Image
        gt = np.asarray(Image.fromarray(gt.astype(np.int32)).resize(size[::-1], Image.NEAREST))
    rank = canonical_instance_order(gt, ids)  # 1..n from left to right, 0 elsewhere
    fg = rank > 0
    if not fg.any():
        return None
    code = instance_colors(N_CODE).astype(np.float32)
    raw = pred.raw.astype(np.float32)[fg]  # [P, 3]
    own = encode_instances(rank, scheme=scheme).astype(np.float32)[fg]
    dist = lambda a, b: np.sqrt(((a - b) ** 2).sum(-1))
    row = {"category": target.spec.get("category"),
           "instances": len(ids), "pixels": int(fg.sum()),
           "exact": float((dist(raw, own) <= TOL).mean()),
           "coded": float((dist(raw[:, None], code[None, :N_CODE]) <= TOL).any(1).mean()),
           "black": float((dist(raw, np.zeros(3, np.float32)) <= TOL).mean())}
    if seen:
        a = seen[0][0]
        a = a[0].detach().float()  # [1 + K, h, w]
        m = torch.from_numpy(fg)
        n_vocab = 0 if head.vocab_rgb is None else int(head.vocab_rgb.shape[0])
        k_named = a.shape[0] - 1 - n_vocab
        row.update(keep=float(a[0][m].mean()), named=float(a[1:1 + k_named].sum(0)[m].mean()),
                   vocab=float(a[1 + k_named:].sum(0)[m].mean()) if n_vocab else 0.0)
        best = a.argmax(0)[m]  # each pixel's heaviest option: 0 keep, then named, then vocabulary slots
        row.update(top_keep=float((best == 0).float().mean()),
                   top_named=float(((best >= 1) & (best <= k_named)).float().mean()))
        if n_vocab:
            counts = torch.bincount(best[best > k_named] - 1 - k_named, minlength=n_vocab)
            row["top_vocab"] = (counts.float() / best.numel()).tolist()  # per vocabulary colour
            vocab = vocab_colors(head)  # [N, 3]
            hit = (np.abs(own[:, None] - vocab[None]).max(-1) < 0.5)  # [P, N]
            slot = np.zeros(fg.shape, np.int64)
            slot[fg] = hit.argmax(1)
            in_vocab = np.zeros(fg.shape, bool)
            in_vocab[fg] = hit.any(1)
            own_p = a[1 + k_named:].gather(0, torch.from_numpy(slot)[None])[0]
            ok = torch.from_numpy(in_vocab)
            row["own_slot"] = float(own_p[ok].mean()) if ok.any() else 0.0
            top = a[1 + k_named:].argmax(0) == torch.from_numpy(slot)
            row["own_top"] = float(top[ok].float().mean()) if ok.any() else 0.0
    return row


def main(argv: list[str] | None = None) -> int:
    from openbanana.cli.args import add_synthetic_model_args
    from openbanana.data.sources.synthetic import SyntheticSource
    from openbanana.pipeline import DEFAULT_MODEL_DIR, load_model
    from openbanana.tasks.codecs.instances import INSTANCE_SCHEMES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_synthetic_model_args(ap, n=16)
    ap.add_argument("--scheme", choices=sorted(INSTANCE_SCHEMES), default=None,
                    help="the instance colour scheme to measure against (default: the model's training one)")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error("--n must be >= 1")
    pipe = load_model(args.model)
    scheme = args.scheme or trained_scheme(Path(args.model) if args.model else DEFAULT_MODEL_DIR)
    head = getattr(pipe.backend.net, "copy", None)
    mode = "" if head is None else f"; colour-copy head: {'hard choices' if head.hard else 'mixture'}"
    print(f"instance colour scheme: {scheme}{mode}")
    source = SyntheticSource(split=args.split, size=pipe.resolution)
    rows = []
    with torch.no_grad():
        for i in range(min(args.n, len(source))):
            record = source[i]
            for t in (t for t in record.targets if t.task == "instance"):
                row = scene_choices(pipe, record, t, scheme)
                if row is not None:
                    row = {"scene": i, **row}
                    rows.append(row)
                    print(json.dumps({k: round(v, 4) if isinstance(v, float) else
                                      [round(x, 4) for x in v] if isinstance(v, list) else v for k, v in row.items()}))
    if not rows:
        print("no instance targets in these scenes")
        return 1
    keys = [k for k in ("exact", "coded", "black", "keep", "named", "vocab", "own_slot", "own_top",
                        "top_keep", "top_named") if k in rows[0]]
    print(f"\n| scenes | {' | '.join(keys)} |\n|---|{'---|' * len(keys)}")
    print(f"| {len(rows)} | " + " | ".join(f"{np.mean([r[k] for r in rows]):.3f}" for k in keys) + " |")
    if "top_vocab" in rows[0]:
        shares = np.mean([r["top_vocab"] for r in rows], axis=0)
        j = int(np.argmax(shares))
        colour = tuple(int(c) for c in vocab_colors(head)[j])
        print(f"\nmost chosen vocabulary colour: {colour} (slot {j}), the heaviest option on {shares[j]:.3f} "
              f"of the instance pixels; all vocabulary colours: {shares.sum():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
