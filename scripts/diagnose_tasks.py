"""Does the generalist learn slower than its parts? Equal-CPU-minute runs of the default recipe's
instruction-tuning stage, one task at a time and all tasks together, scored on synthetic val.

    python scripts/diagnose_tasks.py --minutes 4 --n 16 --out runs/diagnose [--arms all,depth,...]
    python scripts/diagnose_tasks.py --minutes 4 --n 16 --out runs/diagnose --write docs/diagnosis.md
    python scripts/diagnose_tasks.py --arms all --out runs/arch-jit -O backend=jit -O backend_config.size=jit-s

``-O key=value`` overrides the base config (dotted keys, JSON values, as ``openbanana train -O``),
e.g. another architecture at the same recipe and minutes.

Arms (each from random initialisation, the architecture, resolution, batch, learning rate and
objective of ``configs/default-cpu.json``'s instruction stage, 100 % vision samples, the same number
of CPU minutes):

- ``all``: every vision task, weighted as in the default recipe;
- ``depth``, ``normals``, ``semantic``, ``referring``: that task alone. Trained in the one-step mode,
  a single-task arm is a plain regression network of the same size (image in, the task's colour
  image out, mean squared error; its instruction only varies in wording): the reference.

A single-task arm sees all its samples on one task; the ``all`` arm sees about 1/7 of them on each.
So the table answers two questions: at equal minutes, how far behind is the generalist on each task,
and how far behind is it at an equal number of samples *of that task* (the ``samples`` column)?

Writes ``OUT/<arm>/`` (the run) and ``OUT/diagnosis.json``; ``--write FILE`` writes the Markdown
table too. Finished arms are not retrained (delete ``OUT/<arm>`` to redo one).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASK_METRICS = {"depth": "depth_delta1", "normals": "normals_mean_deg", "semantic": "semantic_random_miou",
                "instance": "instance_f1", "referring": "referring_ciou", "reasoning": "reasoning_giou"}
ARMS: dict[str, dict] = {
    "all": {},
    "depth": {"vision_weights": {"depth": 1.0}},
    "normals": {"vision_weights": {"normals": 1.0}},
    "semantic": {"vision_weights": {"semantic": 1.0}},
    "referring": {"vision_weights": {"referring": 1.0}},
}


def arm_config(arm: str, minutes: float, base: Path, overrides: list[str] | None = None):
    """The default recipe's instruction stage, alone, with ``arm``'s task weights (after ``overrides``)."""
    from openbanana.training.config import TrainConfig, apply_overrides

    d = apply_overrides(json.loads(base.read_text()), overrides or [])
    instruct = dict(d["stages"][-1])
    instruct["data"] = {**instruct["data"], "vision_share": 1.0, **ARMS[arm]}
    instruct.update(name=f"diagnose-{arm}", steps=10**6, max_minutes=minutes, min_lr_ratio=1.0)
    d.update(stages=[instruct], max_minutes=minutes + 1, ckpt_every=0, snapshot_every=0, keep_checkpoints=1)
    return TrainConfig.from_dict(d)


def run_arm(arm: str, args: argparse.Namespace) -> dict:
    from openbanana.model_card import evaluate_split
    from openbanana.pipeline import OpenBananaPipeline
    from openbanana.training.loop import train

    out = args.out / arm
    if not (out / "pipeline.json").is_file():
        train(arm_config(arm, args.minutes, args.config, args.override), out, progress=False)
    pipe = OpenBananaPipeline.from_pretrained(out)
    scores = evaluate_split(pipe, "val", args.n, batch_size=8)
    t = pipe.config.training
    return {"arm": arm, "steps": t.get("steps"), "images_seen": t.get("images_seen"),
            "minutes": t.get("minutes"), "scores": scores}


def table(rows: list[dict]) -> str:
    tasks = [t for t in TASK_METRICS if any(r["arm"] in ("all", t) for r in rows)]
    head = "| arm | minutes | images | " + " | ".join(f"{t} ({TASK_METRICS[t]})" for t in tasks) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(tasks)]
    for r in rows:
        cells = []
        for t in tasks:
            v = r["scores"].get(TASK_METRICS[t], float("nan"))
            shown = r["arm"] in ("all", t)
            cells.append(f"{v:.3f}" if shown and math.isfinite(v) else "")
        lines.append(f"| {r['arm']} | {r['minutes']:.1f} | {r['images_seen']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="CPU minutes per arm")
    ap.add_argument("--n", type=int, default=16, help="val scenes scored per arm")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "default-cpu.json")
    ap.add_argument("--out", type=Path, default=Path("runs/diagnose"))
    ap.add_argument("--write", type=Path, default=None, help="also write the Markdown table to this file")
    ap.add_argument("-O", "--override", action="append", default=[], metavar="KEY=VALUE",
                    help="override the base config (dotted key, JSON value); repeatable")
    args = ap.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown or args.minutes <= 0 or args.n < 1:
        ap.error(f"unknown arm(s) {unknown}; expected some of {list(ARMS)}" if unknown
                 else "--minutes must be > 0 and --n >= 1")
    try:  # a bad override or base config fails here, before any minute is spent
        [arm_config(arm, args.minutes, args.config, args.override) for arm in arms]
    except (OSError, ValueError, TypeError) as e:
        ap.error(f"bad --config or -O: {e}")
    rows = []
    for arm in arms:
        print(f"arm {arm}: {args.minutes} min", file=sys.stderr)
        rows.append(run_arm(arm, args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "diagnosis.json").write_text(json.dumps(rows, indent=2) + "\n")
    md = table(rows)
    print(md)
    if args.write is not None:
        cmd = "python scripts/diagnose_tasks.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.write.write_text(f"<!-- written by: {cmd} -->\n{md}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
