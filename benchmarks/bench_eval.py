"""Evaluation harness throughput: images/s and where the time goes, against the model alone.

    python benchmarks/bench_eval.py                          # shipped model if present, else a tiny random one
    python benchmarks/bench_eval.py --model runs/x/pipeline --n 500 --size 128 --device cuda
    python benchmarks/bench_eval.py --random --n 10           # quick check on CPU

What is timed on ``--n`` synthetic-val scenes at ``--size`` pixels (every task of each scene):

1. ``data``: rendering the scenes and building the targets (``SyntheticSource``);
2. ``harness``: ``run_partial`` with the model (prompts, batched model calls, scoring), split into
   ``predict`` (the model call: generation + the pipeline's own decoding) and ``score``
   (resize + metrics);
3. ``decode``: the colour-code decoding alone, re-run on every generated picture of step 2;
4. ``bare``: the same questions through ``pipe(images=..., task=...)`` with no harness (the
   reference: batches of the same task and spec, images already in memory).

Ratios printed: harness / bare (the harness's overhead over the model), and each stage's share.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def _model_dir(args: argparse.Namespace, tmp: Path) -> str | None:
    if args.model:
        return args.model
    from openbanana.pipeline import DEFAULT_MODEL_DIR

    if not args.random and (DEFAULT_MODEL_DIR / "pipeline.json").is_file():
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from surfaces_helpers import build_tiny_pipeline_dir

    return str(build_tiny_pipeline_dir(tmp / "tiny"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", default=None, help="pipeline directory (default: shipped model, else tiny random)"
    )
    p.add_argument(
        "--random", action="store_true", help="use a tiny random pipeline even if a model is shipped"
    )
    p.add_argument("--n", type=int, default=20, help="synthetic val scenes")
    p.add_argument("--size", type=int, default=128, help="scene side in pixels")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=2, help="interleaved repeats; the fastest is kept")
    args = p.parse_args()

    import numpy as np

    import openbanana
    from openbanana.data.sources.synthetic import SyntheticSource
    from openbanana.evaluation.benchmarks import BENCHMARKS, BenchmarkOptions
    from openbanana.evaluation.runner import EvalOptions, finalize, run_partial
    from openbanana.pipeline import load_model
    from openbanana.tasks import TASKS

    with tempfile.TemporaryDirectory() as tmp:
        pipe = load_model(_model_dir(args, Path(tmp)), device=args.device)
        bench = BENCHMARKS.get("synthetic-val")
        opts = EvalOptions(
            limit=args.n,
            batch_size=args.batch_size,
            grid=0,
            benchmark=BenchmarkOptions(synthetic_size=args.size),
        )

        # 1. data: render once and keep the records in memory (the harness below reads these)
        src = SyntheticSource("val", size=args.size, length=args.n)
        t0 = time.perf_counter()
        records = [src[i] for i in range(args.n)]
        t_data = time.perf_counter() - t0

        class Cached(SyntheticSource):
            def __getitem__(self, i):
                return records[i]

        cached = Cached("val", size=args.size, length=args.n)
        pipe.predict(records[0].image, task="depth")  # warm-up

        # 2. the harness, keeping the generated pictures for step 3
        generated: list[tuple[str, dict, np.ndarray]] = []
        real_call = type(pipe).__call__

        def recording_call(self, *a, **kw):
            out = real_call(self, *a, **kw)
            shared = {k: v for k, v in kw.items() if k not in ("images", "instruction", "task")}
            for pr in out.predictions:
                generated.append((pr.task, shared, np.asarray(pr.generated)))
            return out

        def harness() -> tuple[float, object]:
            generated.clear()
            type(pipe).__call__ = recording_call
            try:
                t0 = time.perf_counter()
                part = run_partial(pipe, bench, cached, opts)
                return time.perf_counter() - t0, part
            finally:
                type(pipe).__call__ = real_call

        def bare() -> float:
            t0 = time.perf_counter()
            for items in groups.values():
                for i in range(0, len(items), args.batch_size):
                    chunk = items[i : i + args.batch_size]
                    pipe(
                        images=[c[0] for c in chunk],
                        instruction=[c[1] for c in chunk],
                        task=chunk[0][2],
                        **chunk[0][3],
                    )
            return time.perf_counter() - t0

        # 4. bare model: the same questions, grouped by task and spec, no harness
        groups: dict[str, list] = {}
        for r in records:
            for t in r.targets:
                shared = {k: v for k, v in t.spec.items() if k not in ("expressions", "category")}
                key = t.task + repr(sorted(shared.items()))
                groups.setdefault(key, []).append(
                    (r.image, TASKS.get(t.task).instruction(None, **t.spec), t.task, shared)
                )
        n_q = sum(len(v) for v in groups.values())
        # interleaved repeats, fastest kept (caches warm, other load on the machine filtered)
        runs_h, runs_b = [], []
        for _ in range(args.repeat):
            runs_h.append(harness())
            runs_b.append(bare())
        t_harness, part = min(runs_h, key=lambda r: r[0])
        t_bare = min(runs_b)
        res = finalize(bench, [part], opts, n_total=args.n)

        # 3. decoding alone
        t0 = time.perf_counter()
        for task, spec, rgb in generated:
            openbanana.decode(task, rgb, **spec)
        t_decode = time.perf_counter() - t0

    tm = part.timing_s
    print(f"model: {pipe!r}; {args.n} scenes at {args.size} px, {n_q} questions, failed {res['n_failed']}")
    print(f"{'stage':<22}{'seconds':>10}{'share':>9}")
    for name, sec in (
        ("data (render)", t_data),
        ("harness total", t_harness),
        ("  predict (model)", tm["predict"]),
        ("  score (metrics)", tm["score"]),
        ("decode alone", t_decode),
        ("bare model", t_bare),
    ):
        print(f"{name:<22}{sec:>10.3f}{sec / t_harness:>9.1%}")
    print(
        f"images/s (harness, excluding render): {args.n / t_harness:.2f}; questions/s: {n_q / t_harness:.2f}"
    )
    print(f"images/s (with render):               {args.n / (t_harness + t_data):.2f}")
    print(f"ratio harness / bare model:           {t_harness / t_bare:.2f}")
    print(f"ratio decode / predict:               {t_decode / max(tm['predict'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
