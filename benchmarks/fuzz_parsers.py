"""Fuzz the instruction parsers and the colour decoders with generated inputs; print counts.

    .venv/bin/python benchmarks/fuzz_parsers.py --n 100000 [--seed 0] [--max-chars 4000]

Targets, each fed ``--n`` generated inputs (seeded, so a run is repeatable):

- text: ``openbanana.parse_palette``, ``openbanana.tasks.router.detect_task`` (with an image,
  without one, unknown) and every task's ``spec_from_instruction``, on random bytes decoded as
  UTF-8 or Latin-1, random unicode (lone surrogates and control characters included), huge and
  negative numbers in every colour notation, nested and deeply nested JSON, and sentences of colour
  words, modifiers, class words, separators and notations in every order;
- arrays: ``openbanana.decode(task, x, **spec)`` for every task and a spread of specs, on numpy
  arrays (and some torch tensors) of every dtype, 0 to 5 dimensions, empty sides, and values over
  each dtype's whole range (NaN and inf for floats).

Rules checked (the documented contract): a parser either returns or raises ``InstructionError``
(a ``ValueError``); a decoder either returns or raises ``ValueError`` / ``TypeError`` (wrong
shape, dtype or spec, as :mod:`openbanana.tasks.codecs._array` documents); valid input (uint8
``(H, W, 3)`` / ``(B, H, W, 3)``, H, W > 0) is never refused and never gives NaN, and the answer
has its documented range (depth finite >= 0; normals unit or zero; labels in the palette or 255;
masks boolean). Anything else is counted as a failure and its first three examples are printed.
The exit code is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------- text generators
COLOUR_WORDS = ("red", "light", "blue", "dark", "pale", "bluish", "green", "sky", "navy", "light blue",
                "olive", "grey", "gray", "white", "black", "reddish", "bright", "deep", "purple", "violet",
                "lightgoldenrodyellow", "cornflower", "magenta", "cyan", "orange", "pink", "lime")
CLASS_WORDS = ("road", "the sky", "car", "cars", "person", "the man in the red shirt", "tree", "dog", "the",
               "building", "sidewalk", "background", "everything else", "the rest", "all other pixels",
               "every", "each", "instances", "instance", "object", "depth", "normals", "semantic",
               "segmentation", "highlight", "segment", "paint", "mask", "question", "answer", "query",
               "generate", "edit", "remove", "image of", "colormap", "plasma", "grayscale", "viridis",
               "palette", "class", "classes", "label map", "different colour", "distinct colors", "how far")
FILLERS = ("is", "are", "in", "as", "with", "using", "for", "means", "represented by", "shown in", "on a",
           "and", "then", "&", ":", "=", "->", "=>", "\u2192", ",", ";", ".", "!", "?", "\n", "(", ")", "[", "]",
           "<", ">", "{", "}", '"', "'", "\u201c", "\u201d", "#", "rgb(", "\x00", "\x01", "\x02", "\x03", "-", "_",
           "\x0299\x03", "\x007\x01")  # the parser's own placeholders, in a user's text


def _number(rng: np.random.Generator) -> str:
    k = int(rng.integers(6))
    if k == 0:
        return str(int(rng.integers(0, 256)))
    if k == 1:
        return str(int(rng.integers(256, 100000)))
    if k == 2:
        return "9" * int(rng.integers(4, 6000))  # longer than int()'s 4300-digit limit, sometimes
    if k == 3:
        return "-" + str(int(rng.integers(0, 1000)))
    if k == 4:
        return rng.choice(["1e309", "NaN", "Infinity", "-0", "0x10", "1.5", "00000000000000000255"])
    return "0" * int(rng.integers(1, 50)) + str(int(rng.integers(0, 300)))


def _notation(rng: np.random.Generator) -> str:
    a, b, c = (_number(rng) for _ in range(3))
    k = int(rng.integers(7))
    if k == 0:
        return f"({a}, {b}, {c})"
    if k == 1:
        return f"<{a},{b},{c}>"
    if k == 2:
        return f"[{a}, {b}, {c}]"
    if k == 3:
        return f"rgb({a}, {b}, {c})"
    if k == 4:
        digits = "0123456789abcdefABCDEFxyz"
        return "#" + "".join(rng.choice(list(digits), int(rng.integers(0, 10))))
    if k == 5:
        return f"{a}, {b}, {c}"
    return str(rng.choice(COLOUR_WORDS))


def _json_value(rng: np.random.Generator, depth: int) -> Any:
    k = int(rng.integers(9 if depth < 4 else 6))
    if k == 0:
        return [int(rng.integers(-300, 300)) for _ in range(int(rng.integers(0, 5)))]
    if k == 1:
        return _notation(rng)
    if k == 2:
        return bool(rng.integers(2))
    if k == 3:
        return None
    if k == 4:
        return float(rng.choice([1.5, float("nan"), float("inf"), 1e308]))
    if k == 5:
        return [True, False, True]
    return {str(rng.choice(CLASS_WORDS + COLOUR_WORDS)): _json_value(rng, depth + 1)
            for _ in range(int(rng.integers(0, 4)))}


def _json_text(rng: np.random.Generator) -> str:
    k = int(rng.integers(4))
    if k == 0:  # deeply nested objects or lists: past the recursion limit, sometimes
        d = int(rng.integers(1, 20000))
        inner = '"road": [1, 2, 3]' if rng.random() < 0.5 else '"road": "red"'
        if rng.random() < 0.5:
            return '{"a": ' * d + "{" + inner + "}" + "}" * d
        return '{"road": ' + "[" * d + "]" * d + "}"
    if k == 1:  # an integer too long for json.loads
        return '{"road": [' + "9" * int(rng.integers(4000, 6000)) + ", 1, 2]}"
    text = json.dumps(_json_value(rng, 0), allow_nan=True)
    if rng.random() < 0.3:  # single quotes and tuples, as users write them
        text = text.replace('"', "'")
    if rng.random() < 0.2:  # torn
        text = text[: int(rng.integers(0, len(text) + 1))]
    return text


def _sentence(rng: np.random.Generator, max_chars: int) -> str:
    parts = []
    for _ in range(int(rng.integers(1, 40))):
        k = rng.random()
        pool = COLOUR_WORDS if k < 0.3 else CLASS_WORDS if k < 0.6 else FILLERS
        parts.append(_notation(rng) if rng.random() < 0.15 else str(rng.choice(pool)))
    sep = str(rng.choice([" ", "", "  ", "\t", " , "]))
    return sep.join(parts)[:max_chars]


def _unicode(rng: np.random.Generator, n: int) -> str:
    k = int(rng.integers(3))
    if k == 0:  # any code point, lone surrogates included
        return "".join(chr(int(c)) for c in rng.integers(0, 0x110000, n))
    if k == 1:  # mostly ASCII with controls
        return "".join(chr(int(c)) for c in rng.integers(0, 128, n))
    alphabet = list("redbluegh (),#0123456789:;.\"'{}[]<>?-") + ["\u00e9", "\u201c", "\u201d", "\u2192", "\u00a0",
                                                                  "\ufeff", "\u0301"]
    return "".join(rng.choice(alphabet, n))


def generate_text(rng: np.random.Generator, max_chars: int = 4000) -> str:
    """One generated instruction (see the module's docstring for the kinds)."""
    k = int(rng.integers(8))
    n = int(rng.integers(0, 200 if rng.random() < 0.9 else max_chars))
    if k == 0:
        return bytes(rng.integers(0, 256, n, dtype=np.uint8)).decode("utf-8", errors="replace")
    if k == 1:
        return bytes(rng.integers(0, 256, n, dtype=np.uint8)).decode("latin-1")
    if k == 2:
        return _unicode(rng, n)
    if k == 3:
        return _json_text(rng)
    if k == 4:  # JSON inside a sentence
        return _sentence(rng, max_chars // 2) + " " + _json_text(rng) + " " + _sentence(rng, max_chars // 2)
    if k == 5:  # a long run of one repeated piece (quadratic regexes show here)
        piece = str(rng.choice(COLOUR_WORDS + CLASS_WORDS + FILLERS)) + str(rng.choice(["", " "]))
        return piece * max(1, n // max(1, len(piece)))
    return _sentence(rng, max_chars)


# ---------------------------------------------------------------------------- array generators
DTYPES = ("uint8", "int8", "uint16", "int16", "int32", "int64", "uint64", "float16", "float32", "float64",
          "bool", "complex64", "object")


def generate_array(rng: np.random.Generator) -> np.ndarray:
    """One array: any dtype, 0-5 dimensions with sides 0-9 (the last side often 3), any values."""
    valid = rng.random() < 0.4
    dtype = "uint8" if valid else str(rng.choice(DTYPES))
    ndim = int(rng.choice([3, 4])) if valid else int(rng.integers(0, 6))
    shape = [int(rng.integers(1 if valid else 0, 10)) for _ in range(ndim)]
    if ndim and (valid or rng.random() < 0.6):
        shape[-1] = 3
    if dtype == "object":
        return np.full(shape, None, object)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        mode = int(rng.integers(4))
        if mode == 0:  # few distinct colours, as a model draws
            vals = rng.integers(0, 256, (4,))
            return rng.choice(vals, size=shape).astype(dtype)
        if mode == 1:
            return np.full(shape, info.max, dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    x = rng.standard_normal(shape) * 10.0 ** float(rng.integers(-3, 40))
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(dtype)
    if x.size and rng.random() < 0.3:
        x.flat[int(rng.integers(x.size))] = rng.choice([np.nan, np.inf, -np.inf])
    return x


def generate_spec(rng: np.random.Generator, task: str) -> dict[str, Any]:
    """A spread of valid and invalid decode specs for ``task``."""
    odd = [None, -1, 0, 3.5, float("nan"), float("inf"), 1e308, 10**400, "x", True, [], (1, 2), "light blue"]

    def maybe(d: dict[str, Any], key: str, good: list[Any]) -> None:
        r = rng.random()
        if r < 0.5:
            return
        pool = good if r < 0.85 else odd
        d[key] = pool[int(rng.integers(len(pool)))]

    spec: dict[str, Any] = {}
    if task == "depth":
        maybe(spec, "colormap", ["paper", "plasma", "inferno", "viridis", "grayscale", "jet"])
    elif task == "semantic":
        k = int(rng.integers(1, 6))
        colors = rng.choice(256, size=(k, 3))
        if rng.random() < 0.7:
            spec["palette"] = {f"c{i}": tuple(int(v) for v in c) for i, c in enumerate(colors)}
        else:
            spec["instruction"] = generate_text(rng, 300)
        maybe(spec, "max_distance", [0, 1, 30, 441.7, 442, 1000.0])
        maybe(spec, "black_is_void", [True, False])
    elif task == "instance":
        maybe(spec, "background", [(0, 0, 0), (255, 255, 255), "white", "#123456"])
        if rng.random() < 0.2:
            from openbanana.tasks.codecs.instances import InstanceDecoderParams

            spec["params"] = InstanceDecoderParams(min_area_frac=float(rng.choice([0.0, 0.5, 1.0])))
    elif task in ("referring", "reasoning"):
        k = int(rng.integers(1, 4))
        maybe(spec, "colors", [[tuple(int(v) for v in c) for c in rng.choice(256, size=(k, 3))], ["red"], "blue"])
        maybe(spec, "background", [(0, 0, 0), (255, 0, 0), "black"])
        maybe(spec, "max_distance", [0, 10, 1000])
    elif task == "normals" and rng.random() < 0.1:
        spec["colormap"] = "paper"  # a key normals does not take
    return spec


# ---------------------------------------------------------------------------- checks
def is_valid_rgb(x: Any) -> bool:
    return (getattr(x, "dtype", None) is not None and str(x.dtype) in ("uint8", "torch.uint8") and x.ndim in (3, 4)
            and x.shape[-1] == 3 and x.shape[-2] > 0 and x.shape[-3] > 0)


def check_answer(task: str, rgb: Any, spec: dict[str, Any], out: Any) -> str | None:
    """None when ``out`` is a well-formed answer to valid input, else what is wrong."""
    def arr(x: Any) -> np.ndarray:
        return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)

    hw = tuple(rgb.shape[:-1])
    if task == "depth":
        d = arr(out)
        if d.shape != hw:
            return f"shape {d.shape} for input {tuple(rgb.shape)}"
        if np.isnan(d).any():
            return "NaN depth"
        if not (np.isfinite(d).all() and (d >= 0).all()):
            return "depth not finite and >= 0"
    elif task == "normals":
        n, valid = (arr(o) for o in out)
        if np.isnan(n).any():
            return "NaN normal"
        norms = np.linalg.norm(n.astype(np.float64), axis=-1)
        if not np.allclose(norms[valid], 1.0, atol=1e-3):
            return "valid normals not unit length"
    elif task == "semantic":
        lab = arr(out)
        k = len(spec["palette"]) if "palette" in spec else None
        if lab.shape != hw:
            return f"shape {lab.shape}"
        if k is not None and not np.isin(lab, [*range(k), 255]).all():
            return "label outside the palette"
    elif task == "instance":
        ids = arr(out)
        if ids.shape != hw or (ids < 0).any():
            return "bad instance ids"
    else:
        m = arr(out)
        if m.dtype != bool or m.shape[-2:] != hw[-2:]:
            return f"bad masks {m.dtype} {m.shape}"
    return None


class Tally:
    """Counts per target and outcome, with the first examples of each failure kind."""

    def __init__(self) -> None:
        self.counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.failures: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        self.slowest: dict[str, tuple[float, str]] = {}

    def run(self, target: str, fn: Callable[[], Any], allowed: tuple[type[BaseException], ...],
            describe: Callable[[], str], check: Callable[[Any], str | None] | None = None,
            must_succeed: bool = False) -> None:
        t0 = time.perf_counter()
        try:
            out = fn()
        except allowed as exc:
            outcome = f"refused ({type(exc).__name__})"
            if must_succeed:
                self.fail(target, f"valid input refused ({type(exc).__name__})", f"{exc!s:.150} <- {describe()}")
                outcome = "FAILED"
        except Exception as exc:  # noqa: BLE001 -- counting them is the point
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            self.fail(target, f"{type(exc).__name__} at {tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}",
                      f"{exc!s:.150} <- {describe()}")
            outcome = "FAILED"
        else:
            problem = check(out) if check is not None else None
            if problem:
                self.fail(target, problem, describe())
                outcome = "FAILED"
            else:
                outcome = "ok"
        dt = time.perf_counter() - t0
        self.counts[target][outcome] += 1
        if dt > self.slowest.get(target, (0.0, ""))[0]:
            self.slowest[target] = (dt, describe()[:80])

    def fail(self, target: str, kind: str, example: str) -> None:
        ex = self.failures[(target, kind)]
        ex.append(example[:240] if len(ex) < 3 else "")  # the first three kept, the rest counted

    @property
    def failed(self) -> int:
        return sum(c["FAILED"] for c in self.counts.values())


def fuzz(n: int, seed: int = 0, max_chars: int = 4000, torch_share: float = 0.1,
         progress: Callable[[int, Tally], None] | None = None) -> Tally:
    """Feed ``n`` inputs to every target; return the tally (``progress(i, tally)`` every 1000 inputs)."""
    from openbanana import decode, parse_palette
    from openbanana.errors import InstructionError
    from openbanana.tasks import TASKS
    from openbanana.tasks.router import GENERATION_TASKS, detect_task

    rng = np.random.default_rng(seed)
    tally = Tally()
    names = list(TASKS.names())
    routable = {*names, *GENERATION_TASKS}

    def dict_spec(out: Any) -> str | None:
        return None if isinstance(out, dict) else f"returned {type(out).__name__}"

    def palette_ok(out: Any) -> str | None:
        if not isinstance(out, dict) or not out:
            return "not a non-empty dict"
        cols = list(out.values())
        if len(set(cols)) != len(cols):
            return "two classes share a colour"
        if not all(isinstance(k, str) and len(c) == 3 and all(type(v) is int and 0 <= v <= 255 for v in c)
                   for k, c in out.items()):
            return f"bad entry {next(iter(out.items()))!r}"
        return None

    for i in range(n):
        if progress is not None and i and i % 1000 == 0:
            progress(i, tally)
        text = generate_text(rng, max_chars)
        show = lambda t=text: repr(t)
        tally.run("parse_palette", lambda t=text: parse_palette(t), (InstructionError,), show, palette_ok)
        has_image = (True, None, False)[i % 3]
        tally.run(f"detect_task(has_image={has_image})", lambda t=text, h=has_image: detect_task(t, has_image=h),
                  (InstructionError,), show,
                  lambda out: None if out.task in routable and isinstance(out.spec, dict) else f"task {out.task!r}")
        task = names[i % len(names)]
        tally.run(f"{task}.spec_from_instruction", lambda t=text, k=task: TASKS.get(k).spec_from_instruction(t),
                  (InstructionError,), show, dict_spec)

        x = generate_array(rng)
        spec = generate_spec(rng, task)
        if rng.random() < torch_share and x.dtype != object and x.dtype.kind != "c" and x.dtype != np.uint16:
            import torch

            x = torch.from_numpy(np.ascontiguousarray(x))
        valid = is_valid_rgb(x) and _spec_is_valid(task, spec)
        desc = lambda x=x, s=spec: f"{type(x).__name__} {x.dtype} {tuple(x.shape)} spec={s!r}"
        tally.run(f"decode({task})", lambda x=x, t=task, s=spec: decode(t, x, **s), (ValueError, TypeError), desc,
                  (lambda out, x=x, t=task, s=spec: check_answer(t, x, s, out)) if valid else None,
                  must_succeed=valid)
    return tally


def _spec_is_valid(task: str, spec: dict[str, Any]) -> bool:
    """Whether ``generate_spec`` drew only good values (then the decoder must answer)."""
    if "instruction" in spec:
        return False  # random text: may well hold no palette
    good_md = (0, 1, 10, 30, 441.7, 442, 1000, 1000.0)
    if "max_distance" in spec and spec["max_distance"] not in good_md:
        return False
    if task == "depth":
        return spec.get("colormap", "paper") in ("paper", "plasma", "inferno", "viridis", "grayscale")
    if task == "semantic":
        cols = list(spec["palette"].values())
        return len(set(cols)) == len(cols) and type(spec.get("black_is_void", True)) is bool
    if task == "instance":
        return spec.get("background", (0, 0, 0)) in ((0, 0, 0), (255, 255, 255), "white", "#123456")
    if task in ("referring", "reasoning"):
        c, bg = spec.get("colors", [(255, 0, 0)]), spec.get("background", (0, 0, 0))
        if not (isinstance(c, list) and c and all(isinstance(v, tuple) for v in c)
                and isinstance(bg, tuple) and len(bg) == 3):
            return False
        return len(set(c)) == len(c) and bg not in c
    return "colormap" not in spec  # normals takes no spec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="inputs per target (default 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=4000, help="longest generated text (10%% of texts reach it)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    def progress(i: int, tally: Tally) -> None:
        if i % 10000 == 0:
            calls = sum(sum(c.values()) for c in tally.counts.values())
            print(f"  {i} inputs, {calls} calls, {tally.failed} failures, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)

    tally = fuzz(args.n, args.seed, args.max_chars, progress=progress)
    seconds = time.perf_counter() - t0
    outcomes = sorted({o for c in tally.counts.values() for o in c})
    print(f"fuzz_parsers: --n {args.n} --seed {args.seed} --max-chars {args.max_chars}, {seconds:.0f} s\n")
    print("| target | calls | " + " | ".join(outcomes) + " | slowest call (s) |")
    print("|---|---:|" + "---:|" * len(outcomes) + "---:|")
    for target in sorted(tally.counts):
        c = tally.counts[target]
        print(f"| {target} | {sum(c.values())} | " + " | ".join(str(c.get(o, 0)) for o in outcomes)
              + f" | {tally.slowest[target][0]:.3f} |")
    total = sum(sum(c.values()) for c in tally.counts.values())
    print(f"\n{total} calls, {tally.failed} failures")
    for (target, kind), examples in sorted(tally.failures.items()):
        print(f"\nFAILED {target}: {kind} ({len(examples)} times), e.g.")
        for ex in examples[:3]:
            print(f"    {ex!r}")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
