"""Colour names, parse_color, parse_palette, render_palette (round trip over every notation)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openbanana
from openbanana.errors import InstructionError
from openbanana.tasks.color_names import CSS_COLORS, MODIFIERS
from openbanana.tasks.colors import (
    NOTATIONS,
    _spaced,
    color_name,
    extract_background,
    parse_color,
    parse_palette,
    render_color,
    render_palette,
    resolve_name,
)

CITYSCAPES = {
    "road": (128, 64, 128), "sidewalk": (244, 35, 232), "building": (70, 70, 70), "wall": (102, 102, 156),
    "fence": (190, 153, 153), "pole": (153, 153, 153), "traffic light": (250, 170, 30),
    "traffic sign": (220, 220, 0), "vegetation": (107, 142, 35), "terrain": (152, 251, 152),
    "sky": (70, 130, 180), "person": (220, 20, 60), "rider": (255, 0, 0), "car": (0, 0, 142),
    "truck": (0, 0, 70), "bus": (0, 60, 100), "train": (0, 80, 100), "motorcycle": (0, 0, 230),
    "bicycle": (119, 11, 32),
}


# ----------------------------------------------------------------------------- names and colours
@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("red", (255, 0, 0)), ("Light Blue", (173, 216, 230)), ("light-blue", (173, 216, 230)),
        ("lightblue", (173, 216, 230)), ("dark gray", (169, 169, 169)), ("sky blue", (135, 206, 235)),
        ("light purple", (192, 128, 192)),  # EXTRA_COLORS entry
        ("light magenta", (255, 128, 255)),  # modifier: halfway to white
        ("dark red", (139, 0, 0)),  # CSS darkred wins over the modifier
        ("dark magenta", (139, 0, 139)),
        ("dark orchid", (153, 50, 204)),
        ("pale red", (255, 166, 166)),  # 65% to white: 0 + 0.65 * 255 = 165.75 -> 166
        ("deep blue", (0, 0, 191)),  # 0.75 * 255 = 191.25 -> 191
        ("bright maroon", (255, 0, 0)),  # (128, 0, 0) scaled until max = 255
        ("pinkish red", (255, 58, 61)),  # 30% toward pink (255, 192, 203)
        ("bluish green", (0, 90, 77)),  # 30% from (0, 128, 0) toward (0, 0, 255)
        ("olive green", (64, 128, 0)),  # two names: channel mean, rounded half up
        ("#4682B4", (70, 130, 180)), ("#4682b4", (70, 130, 180)), ("#fff", (255, 255, 255)),
        ("#80C000", (128, 192, 0)), ("(128, 64, 128)", (128, 64, 128)), ("<255,165,0>", (255, 165, 0)),
        ("[0, 0, 255]", (0, 0, 255)), ("rgb(1, 2, 3)", (1, 2, 3)), ("RGB( 10 ,20, 30 )", (10, 20, 30)),
        ("10, 20, 30", (10, 20, 30)), ((1, 2, 3), (1, 2, 3)), (np.array([4, 5, 6]), (4, 5, 6)),
    ],
)
def test_parse_color(text, rgb):
    assert parse_color(text) == rgb


def test_every_css_name_parses_joined_and_spaced():
    for name, rgb in CSS_COLORS.items():
        assert parse_color(name) == rgb
        assert parse_color(_spaced(name)) == rgb, _spaced(name)
    assert _spaced("aliceblue") == "alice blue"
    assert _spaced("lightgoldenrodyellow") == "light goldenrod yellow"


def test_modifier_rules_documented():
    assert set(MODIFIERS) >= {"light", "dark", "pale", "bright", "deep", "pinkish", "bluish", "reddish"}
    assert resolve_name("light black") == (128, 128, 128)
    assert resolve_name("bright black") == (0, 0, 0)
    assert resolve_name("nonsense") is None
    assert resolve_name("light") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("blurple", "unknown colour name 'blurple'; did you mean 'purple'"),
        ("reed", "did you mean 'red'"),
        ("#12345", "bad hex colour"),
        ("(300, 0, 0)", "above 255"),
        ("1.5, 2, 3", "could not read a colour"),
        ((1, 2), "3 ints"),
        ((256, 0, 0), "3 ints"),
    ],
)
def test_parse_color_errors(text, message):
    with pytest.raises(InstructionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_color(text)


def test_color_name_and_render_color():
    assert color_name((173, 216, 230)) == "lightblue"
    assert color_name((1, 2, 3)) is None
    assert render_color((1, 2, 3)) == "(1, 2, 3)"
    assert render_color((255, 0, 0), None, "name") == "red"
    assert render_color((1, 2, 3), None, "name") == "(1, 2, 3)"  # no exact name: numeric
    assert render_color((70, 130, 180), None, "hex") == "#4682B4"
    assert render_color((1, 2, 3), None, "angle") == "<1, 2, 3>"
    assert render_color((1, 2, 3), None, "rgb") == "rgb(1, 2, 3)"
    with pytest.raises(ValueError, match="unknown colour notation"):
        render_color((1, 2, 3), None, "cmyk")
    rng = np.random.default_rng(0)
    for _ in range(200):
        rgb = tuple(int(v) for v in rng.integers(0, 256, 3))
        assert parse_color(render_color(rgb, rng)) == rgb


# ----------------------------------------------------------------------------- parse_palette
@pytest.mark.parametrize(
    ("text", "palette"),
    [
        ("the road is represented by (128, 64, 128)", {"road": (128, 64, 128)}),
        ("the sky is #4682B4", {"sky": (70, 130, 180)}),
        ("cars are shown in light blue", {"cars": (173, 216, 230)}),
        ("paint the plates <255,192,128>", {"plates": (255, 192, 128)}),
        ("road: (128,64,128); sidewalk: (244,35,232)", {"road": (128, 64, 128), "sidewalk": (244, 35, 232)}),
        ("use red for person and blue for car", {"person": (255, 0, 0), "car": (0, 0, 255)}),
        ('Segment with {"road": [128, 64, 128], "sky": "#4682B4", "car": "light blue"} please',
         {"road": (128, 64, 128), "sky": (70, 130, 180), "car": (173, 216, 230)}),
        ("{'road': (128, 64, 128), 'sky': 'red'}", {"road": (128, 64, 128), "sky": (255, 0, 0)}),
        ('{"palette": {"road": [1, 2, 3]}}', {"road": (1, 2, 3)}),
        ('{"(1, 2, 3)": "road", "#0000ff": "sky"}', {"road": (1, 2, 3), "sky": (0, 0, 255)}),
        ('{"road": [1, 2, 3]} and the sky is light purple, cars in <0,0,142>',
         {"road": (1, 2, 3), "sky": (192, 128, 192), "cars": (0, 0, 142)}),
        ("Classes: road=(128,64,128), sidewalk=rgb(244,35,232). Paint everything else black.",
         {"road": (128, 64, 128), "sidewalk": (244, 35, 232)}),
        ("(1,2,3) for road; [4,5,6] means sky", {"road": (1, 2, 3), "sky": (4, 5, 6)}),
        ("road (1,2,3) sky (4,5,6)", {"road": (1, 2, 3), "sky": (4, 5, 6)}),
        ("the plates are represented by (255,192,128) and the cups by #80C000",
         {"plates": (255, 192, 128), "cups": (128, 192, 0)}),
        ("paint the road red and the sky blue", {"road": (255, 0, 0), "sky": (0, 0, 255)}),
        ("paint the sky sky blue", {"sky": (135, 206, 235)}),
        ("highlight the man in the red shirt in blue on a black background", {"man in the red shirt": (0, 0, 255)}),
        ("use blue for the man in the red shirt", {"man in the red shirt": (0, 0, 255)}),
        ("orange: (255,165,0), gold is #FFD700", {"orange": (255, 165, 0), "gold": (255, 215, 0)}),
        ('Highlight "man, on the left. with a red hat" in blue and "dog" in (1,2,3)',
         {"man, on the left. with a red hat": (0, 0, 255), "dog": (1, 2, 3)}),
        ("the road is (128,64,128) and the road is also #804080", {"road": (128, 64, 128)}),
        ("the cat's ears are orange, the exit sign blue and the background purple",
         {"cat's ears": (255, 165, 0), "exit sign": (0, 0, 255), "background": (128, 0, 128)}),
    ],
)
def test_parse_palette(text, palette):
    out = parse_palette(text)
    assert out == palette
    assert list(out) == list(palette)  # order of appearance


def test_parse_palette_top_level_name():
    assert openbanana.parse_palette("the sky is #4682B4, road (128, 64, 128)") == {
        "sky": (70, 130, 180), "road": (128, 64, 128)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("the road is blurple", r"unknown colour name 'blurple' in 'the road is blurple'; did you mean 'purple'"),
        ('{"road": "blurple"}', r"unknown colour name 'blurple'"),
        ("use bleu for sky", r"unknown colour name 'bleu'.*'blue'"),
        ("please segment this image", r"could not find any class -> colour mapping in 'please segment this image'"),
        ("road: (1,2,3), sky: (1,2,3)", r"classes 'road' and 'sky' have the same colour \(1, 2, 3\)"),
        ("road: red; road: blue", r"class 'road' is given two colours: \(255, 0, 0\) and \(0, 0, 255\)"),
        ("road: (300,1,1)", r"above 255"),
        ("sky #12345", r"bad hex colour '#12345'"),
        ('{"road": [1, 2]}', r"class 'road' has value \[1, 2\]"),
        ('{"road": [1, 2, 999]}', r"out of range"),
        ("", r"could not find any"),
    ],
)
def test_parse_palette_errors(text, message):
    with pytest.raises(InstructionError, match=message):
        parse_palette(text)
    assert issubclass(InstructionError, ValueError)


def test_parse_palette_type_error():
    with pytest.raises(TypeError, match="expected the instruction as str"):
        parse_palette({"road": (1, 2, 3)})


def test_extract_background():
    assert extract_background("highlight the dog in red on a white background") == (
        (255, 255, 255), "highlight the dog in red")
    assert extract_background("dog in red, everything else (1, 2, 3)")[0] == (1, 2, 3)
    assert extract_background("dog in red; background #102030")[0] == (16, 32, 48)
    assert extract_background("dog in red") == (None, "dog in red")
    rgb, rest = extract_background('"dog on a red background" in blue')
    assert rgb is None and rest == '"dog on a red background" in blue'


# ----------------------------------------------------------------------------- render_palette
def test_render_palette_canonical():
    p = {"road": (128, 64, 128), "sky": (70, 130, 180)}
    assert render_palette(p) == "road: (128, 64, 128); sky: (70, 130, 180)"
    assert render_palette(p, None, "json") == '{"road": [128, 64, 128], "sky": [70, 130, 180]}'
    assert render_palette(p, None, "hex") == "road: #804080; sky: #4682B4"
    with pytest.raises(ValueError, match="non-empty"):
        render_palette({}, None)
    with pytest.raises(ValueError, match="unknown notation"):
        render_palette(p, None, "yaml")


@pytest.mark.parametrize("notation", NOTATIONS)
def test_render_palette_cityscapes_round_trip(notation):
    for seed in range(40):
        text = render_palette(CITYSCAPES, np.random.default_rng(seed), notation)
        out = parse_palette(text)
        assert out == CITYSCAPES and list(out) == list(CITYSCAPES), text


def test_render_palette_varies_and_is_seeded():
    p = {"road": (255, 0, 0), "sky": (0, 0, 255)}
    texts = {render_palette(p, np.random.default_rng(s)) for s in range(50)}
    assert len(texts) > 30
    assert render_palette(p, np.random.default_rng(3)) == render_palette(p, np.random.default_rng(3))
    names = render_palette(p, np.random.default_rng(0), "name")
    assert "red" in names and "blue" in names and "(" not in names


_WORDS = ["road", "plate", "cup", "window", "tree", "boat", "kite", "bottle", "shelf", "lamp", "tower", "bench",
          "orange", "snow", "tomato", "gold", "sea", "traffic", "light", "shirt", "sky"]
_names = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=2).map(" ".join)
_colors = st.one_of(
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    st.sampled_from(sorted(set(CSS_COLORS.values()))),
)
_palettes = st.dictionaries(_names, _colors, min_size=1, max_size=8).filter(
    lambda p: len(set(p.values())) == len(p)
)


@pytest.mark.parametrize("notation", NOTATIONS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(palette=_palettes, seed=st.integers(0, 2**32 - 1))
def test_render_parse_round_trip_property(notation, palette, seed):
    text = render_palette(palette, np.random.default_rng(seed), notation)
    out = parse_palette(text)
    assert out == palette, text
    assert list(out) == list(palette)


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("zebra is red, apple is blue, mango is green", ["zebra", "apple", "mango"]),
        ('trucks are shown in light blue; {"person": [220, 20, 60]}', ["trucks", "person"]),
        ('{"zebra": [1, 2, 3]} and the apple is (4, 5, 6); {"mango": "#070809"}, yak in red',
         ["zebra", "apple", "mango", "yak"]),
        ("Semantic segmentation: wall (102, 102, 156), floor #804000, ceiling in light purple",
         ["wall", "floor", "ceiling"]),
    ],
)
def test_parse_palette_keeps_the_order_the_instruction_names_the_classes(text, order):
    assert list(parse_palette(text)) == order
    assert sorted(order) != order  # out of alphabetical order, so sorting would show


def test_parse_palette_mixed_json_and_sentences_values():
    assert parse_palette('cars are shown in light blue; {"person": [220, 20, 60]}') == {
        "cars": (173, 216, 230), "person": (220, 20, 60)}


def test_a_long_unparsable_palette_is_quoted_short():
    text = "semantic segmentation of everything. " * 30
    with pytest.raises(InstructionError) as err:
        parse_palette(text)
    assert f"{text[:80].rstrip()}…'" in str(err.value) and len(str(err.value)) < 400
