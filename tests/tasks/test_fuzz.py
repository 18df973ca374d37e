"""Property tests (fixed seed): the instruction parsers and the decoders on generated input.

A parser returns or raises ``InstructionError``; a decoder returns or raises ``ValueError`` /
``TypeError`` (wrong shape, dtype or spec); valid input is never refused and never gives NaN.
``benchmarks/fuzz_parsers.py --n 100000`` runs the same contract much longer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import openbanana
from openbanana.errors import InstructionError
from openbanana.tasks import TASKS
from openbanana.tasks.router import GENERATION_TASKS, detect_task

FIXED = settings(derandomize=True, max_examples=150, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

COLOUR_WORDS = ["red", "light", "blue", "dark", "pale", "bluish", "green", "sky", "navy", "light blue", "olive",
                "grey", "white", "black", "reddish", "bright", "lightgoldenrodyellow", "cornflower", "purple"]
OTHER_WORDS = ["road", "the sky", "car", "person", "the man in the red shirt", "background", "everything else",
               "the rest", "every", "instances", "depth", "normals", "semantic", "segmentation", "highlight",
               "paint", "question", "answer", "generate", "edit", "plasma", "grayscale", "palette", "is", "are",
               "in", "with", "for", "means", "represented by", "on a", "and", "&", ":", "=", "->", "\u2192", ",",
               ";", ".", "?", "\n", "(", ")", "[", "]", "<", ">", "{", "}", '"', "'", "\u201c", "\u201d", "#",
               "rgb(", "\x00", "\x01", "\x02", "\x03", "\x0299\x03", "\x007\x01"]


def _big_number() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-10**6, 10**6).map(str), st.integers(4000, 6000).map(lambda n: "9" * n),
                     st.sampled_from(["1e309", "NaN", "Infinity", "-0", "0x10", "1.5", "000000000000255"]))


def _notation() -> st.SearchStrategy[str]:
    three = st.tuples(_big_number(), _big_number(), _big_number())
    return st.one_of(
        three.map(lambda t: "({}, {}, {})".format(*t)), three.map(lambda t: "<{},{},{}>".format(*t)),
        three.map(lambda t: "[{}, {}, {}]".format(*t)), three.map(lambda t: "rgb({}, {}, {})".format(*t)),
        st.text("0123456789abcdefABCDEFxz", max_size=9).map(lambda h: "#" + h), st.sampled_from(COLOUR_WORDS))


def _deep_json() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(1, 20000).map(lambda d: '{"a": ' * d + '{"road": [1, 2, 3]}' + "}" * d),
        st.integers(1, 20000).map(lambda d: '{"road": ' + "[" * d + "]" * d + "}"),
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-300, 300) | st.floats() | st.text(max_size=12) | _notation()
    | st.just([True, False, True]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(OTHER_WORDS + COLOUR_WORDS),
                                                                 inner, max_size=4),
    max_leaves=12,
).map(lambda v: json.dumps(v, allow_nan=True))

TEXT = st.one_of(
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.text(st.characters(codec=None, categories=None), max_size=300),  # lone surrogates, controls
    _deep_json(),
    _JSON,
    st.lists(st.one_of(st.sampled_from(COLOUR_WORDS), st.sampled_from(OTHER_WORDS), _notation(), _JSON),
             max_size=30).flatmap(lambda parts: st.sampled_from([" ", "", ", "]).map(lambda sep: sep.join(parts))),
    st.tuples(st.sampled_from(COLOUR_WORDS + OTHER_WORDS), st.integers(1, 3000)).map(lambda t: (t[0] + " ") * t[1]),
)


@FIXED
@given(TEXT)
def test_parse_palette_returns_a_palette_or_says_why(text):
    try:
        palette = openbanana.parse_palette(text)
    except InstructionError:
        return
    assert isinstance(palette, dict) and palette
    colours = list(palette.values())
    assert len(set(colours)) == len(colours)
    for name, rgb in palette.items():
        assert isinstance(name, str) and len(rgb) == 3
        assert all(type(v) is int and 0 <= v <= 255 for v in rgb), (name, rgb)


@FIXED
@given(TEXT, st.sampled_from([True, None, False]))
def test_the_router_routes_or_says_why(text, has_image):
    try:
        req = detect_task(text, has_image=has_image)
    except InstructionError:
        return
    assert req.task in {*TASKS.names(), *GENERATION_TASKS} and isinstance(req.spec, dict)


@FIXED
@given(TEXT, st.sampled_from(sorted(TASKS.names())))
def test_every_task_reads_its_spec_or_says_why_and_the_spec_decodes(text, task):
    try:
        spec = TASKS.get(task).spec_from_instruction(text)
    except InstructionError:
        return
    assert isinstance(spec, dict)
    rgb = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    if task in ("referring", "reasoning"):
        spec = {k: v for k, v in spec.items() if k != "expressions"}
    try:
        openbanana.decode(task, rgb, **spec)
    except ValueError as err:  # a spec read from text may still be refused, e.g. a target colour = background
        assert "background" in str(err) or "same" in str(err) or "distinct" in str(err), err


# ---------------------------------------------------------------------------- decoders
DTYPES = ["uint8", "int8", "uint16", "int16", "int32", "int64", "uint64", "float16", "float32", "float64", "bool",
          "complex64"]
SPECS = {
    "depth": [{}, {"colormap": "plasma"}, {"colormap": "grayscale"}, {"colormap": "viridis"}, {"colormap": "inferno"}],
    "normals": [{}],
    "semantic": [{"palette": {"a": (255, 0, 0), "b": (0, 0, 255)}}, {"palette": {"k": (0, 0, 0)}, "max_distance": 10},
                 {"palette": {"a": (1, 2, 3)}, "max_distance": 10**400, "black_is_void": False}],
    "instance": [{}, {"background": (255, 255, 255)}],
    "referring": [{}, {"colors": [(255, 0, 0), (0, 255, 0)], "max_distance": 0}, {"max_distance": 1e308}],
    "reasoning": [{}, {"colors": ["light blue"], "background": "white"}],
}
ANY_ARRAY = hnp.arrays(
    dtype=st.sampled_from(DTYPES),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6),
    elements=None,
)
RGB = st.one_of(
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12).map(lambda s: (*s, 3))),
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6).map(lambda s: (*s, 3))),
)


def _decode_cases():
    return st.sampled_from([(task, i) for task, specs in SPECS.items() for i in range(len(specs))])


@FIXED
@given(ANY_ARRAY, _decode_cases())
def test_decoders_refuse_bad_arrays_with_value_or_type_errors(x, case):
    task, i = case
    try:
        openbanana.decode(task, x, **SPECS[task][i])
    except (ValueError, TypeError):
        pass


@FIXED
@given(RGB, _decode_cases())
def test_decoders_answer_every_rgb_image_without_nan(rgb, case):
    task, i = case
    spec = SPECS[task][i]
    answer = openbanana.decode(task, rgb, **spec)
    out = answer.value
    hw = rgb.shape[:-1]
    if task == "depth":
        assert out.shape == hw and np.isfinite(out).all() and (out >= 0).all()
    elif task == "normals":
        n, valid = out, answer.valid
        assert not np.isnan(n).any() and valid.shape == hw
        assert np.allclose(np.linalg.norm(n[valid].astype(np.float64), axis=-1), 1.0, atol=1e-3)
    elif task == "semantic":
        assert out.shape == hw and np.isin(out, [*range(len(spec["palette"])), 255]).all()
    elif task == "instance":
        assert out.shape == hw and (out >= 0).all()
    else:
        assert out.dtype == bool and out.shape[-2:] == hw[-2:]


@pytest.mark.parametrize("text", [
    '{"a": ' * 5000 + '{"road": [1, 2, 3]}' + "}" * 5000,  # deeper than json.loads goes
    '{"road": [' + "9" * 5000 + ", 1, 2]}",  # an integer longer than int() reads
    "road: (" + "9" * 5000 + ", 1, 2)",
    "road \x0299\x03 blue; sky \x007\x01 red",  # the parser's own placeholders
    "red " * 3000,  # a run of colour words longer than the recursion limit
])
def test_found_by_fuzzing_refused_with_instruction_error_or_read(text):
    try:
        openbanana.parse_palette(text)
    except InstructionError:
        pass
    for task in TASKS.names():
        try:
            TASKS.get(task).spec_from_instruction(text)
        except InstructionError:
            pass


def test_found_by_fuzzing_json_booleans_are_not_channels():
    with pytest.raises(InstructionError, match="expected \\[r, g, b\\]"):
        openbanana.parse_palette('{"road": [true, false, true]}')
    assert openbanana.parse_palette('{"road": [1, 0, 1]}') == {"road": (1, 0, 1)}
    assert openbanana.parse_palette("road: (" + "0" * 40 + "255, 1, 2)") == {"road": (255, 1, 2)}


def test_found_by_fuzzing_huge_max_distance_means_no_limit():
    rgb = np.array([[[10, 20, 30], [250, 250, 250]]], np.uint8)
    for md in (10**400, 1e308, float("inf"), 442):
        assert openbanana.decode("semantic", rgb, palette={"a": (255, 0, 0)}, max_distance=md,
                                 black_is_void=False).value.tolist() == [[0, 0]]
        assert openbanana.decode("referring", rgb, max_distance=md).value.shape == (1, 1, 2)
    with pytest.raises(TypeError, match="black_is_void"):
        openbanana.decode("semantic", rgb, palette={"a": (255, 0, 0)}, black_is_void=np.array([1, 2]))


@pytest.mark.parametrize("task", sorted(SPECS))
def test_found_by_fuzzing_an_empty_batch_decodes_to_an_empty_batch(task):
    first = openbanana.decode(task, np.zeros((0, 4, 5, 3), np.uint8), **SPECS[task][0]).value
    assert first.shape[0] == 0 and first.shape[-2:] == ((4, 5) if task != "normals" else (5, 3))
