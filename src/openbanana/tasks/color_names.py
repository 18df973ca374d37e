"""Colour names: the CSS Color Module Level 4 named colours (the X11 set), plus modifiers.

A colour name in an instruction is resolved by :func:`openbanana.tasks.colors.resolve_name`:

1. The words joined without spaces or hyphens are looked up in :data:`CSS_COLORS` (then in
   :data:`EXTRA_COLORS`): ``"light blue"``, ``"light-blue"`` and ``"lightblue"`` are all CSS
   ``lightblue`` = (173, 216, 230). An exact name always wins over the modifier rule below, so
   ``"dark gray"`` is CSS ``darkgray`` (169, 169, 169), which is lighter than ``gray`` (a CSS quirk).
2. Otherwise the first word is a modifier from :data:`MODIFIERS` applied to the colour named by the
   remaining words (``"light purple"`` = ``light(purple)``, ``"pale bluish green"`` =
   ``pale(bluish(green))``).
3. Otherwise, two colour names in a row are averaged channel by channel (``"olive green"`` =
   mean(olive, green)).

Modifier rules (all channels rounded half up and clipped to 0..255), with ``c`` the colour:

=============  ================================================================
``light``      halfway to white: ``c + 0.5 * (255 - c)``
``pale``       65% of the way to white: ``c + 0.65 * (255 - c)``
``dark``       scaled toward black: ``0.55 * c``
``deep``       scaled toward black, less: ``0.75 * c``
``bright``     scaled up until its largest channel is 255 (black stays black)
``<hue>ish``   30% of the way to the CSS colour ``<hue>``: ``reddish``, ``pinkish``, ``bluish``
               (``blueish``), ``greenish``, ``yellowish``, ``purplish``, ``orangish``
               (``orangey``), ``brownish``, ``greyish`` (``grayish``)
=============  ================================================================

The values of the CSS names are facts of the CSS specification.
"""

from __future__ import annotations

#: the 148 CSS named colours (both spellings of grey), lowercase, no spaces
CSS_COLORS: dict[str, tuple[int, int, int]] = {
    "aliceblue": (240, 248, 255), "antiquewhite": (250, 235, 215), "aqua": (0, 255, 255),
    "aquamarine": (127, 255, 212), "azure": (240, 255, 255), "beige": (245, 245, 220),
    "bisque": (255, 228, 196), "black": (0, 0, 0), "blanchedalmond": (255, 235, 205),
    "blue": (0, 0, 255), "blueviolet": (138, 43, 226), "brown": (165, 42, 42),
    "burlywood": (222, 184, 135), "cadetblue": (95, 158, 160), "chartreuse": (127, 255, 0),
    "chocolate": (210, 105, 30), "coral": (255, 127, 80), "cornflowerblue": (100, 149, 237),
    "cornsilk": (255, 248, 220), "crimson": (220, 20, 60), "cyan": (0, 255, 255),
    "darkblue": (0, 0, 139), "darkcyan": (0, 139, 139), "darkgoldenrod": (184, 134, 11),
    "darkgray": (169, 169, 169), "darkgreen": (0, 100, 0), "darkgrey": (169, 169, 169),
    "darkkhaki": (189, 183, 107), "darkmagenta": (139, 0, 139), "darkolivegreen": (85, 107, 47),
    "darkorange": (255, 140, 0), "darkorchid": (153, 50, 204), "darkred": (139, 0, 0),
    "darksalmon": (233, 150, 122), "darkseagreen": (143, 188, 143), "darkslateblue": (72, 61, 139),
    "darkslategray": (47, 79, 79), "darkslategrey": (47, 79, 79), "darkturquoise": (0, 206, 209),
    "darkviolet": (148, 0, 211), "deeppink": (255, 20, 147), "deepskyblue": (0, 191, 255),
    "dimgray": (105, 105, 105), "dimgrey": (105, 105, 105), "dodgerblue": (30, 144, 255),
    "firebrick": (178, 34, 34), "floralwhite": (255, 250, 240), "forestgreen": (34, 139, 34),
    "fuchsia": (255, 0, 255), "gainsboro": (220, 220, 220), "ghostwhite": (248, 248, 255),
    "gold": (255, 215, 0), "goldenrod": (218, 165, 32), "gray": (128, 128, 128), "green": (0, 128, 0),
    "greenyellow": (173, 255, 47), "grey": (128, 128, 128), "honeydew": (240, 255, 240),
    "hotpink": (255, 105, 180), "indianred": (205, 92, 92), "indigo": (75, 0, 130),
    "ivory": (255, 255, 240), "khaki": (240, 230, 140), "lavender": (230, 230, 250),
    "lavenderblush": (255, 240, 245), "lawngreen": (124, 252, 0), "lemonchiffon": (255, 250, 205),
    "lightblue": (173, 216, 230), "lightcoral": (240, 128, 128), "lightcyan": (224, 255, 255),
    "lightgoldenrodyellow": (250, 250, 210), "lightgray": (211, 211, 211),
    "lightgreen": (144, 238, 144), "lightgrey": (211, 211, 211), "lightpink": (255, 182, 193),
    "lightsalmon": (255, 160, 122), "lightseagreen": (32, 178, 170), "lightskyblue": (135, 206, 250),
    "lightslategray": (119, 136, 153), "lightslategrey": (119, 136, 153),
    "lightsteelblue": (176, 196, 222), "lightyellow": (255, 255, 224), "lime": (0, 255, 0),
    "limegreen": (50, 205, 50), "linen": (250, 240, 230), "magenta": (255, 0, 255),
    "maroon": (128, 0, 0), "mediumaquamarine": (102, 205, 170), "mediumblue": (0, 0, 205),
    "mediumorchid": (186, 85, 211), "mediumpurple": (147, 112, 219), "mediumseagreen": (60, 179, 113),
    "mediumslateblue": (123, 104, 238), "mediumspringgreen": (0, 250, 154),
    "mediumturquoise": (72, 209, 204), "mediumvioletred": (199, 21, 133), "midnightblue": (25, 25, 112),
    "mintcream": (245, 255, 250), "mistyrose": (255, 228, 225), "moccasin": (255, 228, 181),
    "navajowhite": (255, 222, 173), "navy": (0, 0, 128), "oldlace": (253, 245, 230),
    "olive": (128, 128, 0), "olivedrab": (107, 142, 35), "orange": (255, 165, 0),
    "orangered": (255, 69, 0), "orchid": (218, 112, 214), "palegoldenrod": (238, 232, 170),
    "palegreen": (152, 251, 152), "paleturquoise": (175, 238, 238), "palevioletred": (219, 112, 147),
    "papayawhip": (255, 239, 213), "peachpuff": (255, 218, 185), "peru": (205, 133, 63),
    "pink": (255, 192, 203), "plum": (221, 160, 221), "powderblue": (176, 224, 230),
    "purple": (128, 0, 128), "rebeccapurple": (102, 51, 153), "red": (255, 0, 0),
    "rosybrown": (188, 143, 143), "royalblue": (65, 105, 225), "saddlebrown": (139, 69, 19),
    "salmon": (250, 128, 114), "sandybrown": (244, 164, 96), "seagreen": (46, 139, 87),
    "seashell": (255, 245, 238), "sienna": (160, 82, 45), "silver": (192, 192, 192),
    "skyblue": (135, 206, 235), "slateblue": (106, 90, 205), "slategray": (112, 128, 144),
    "slategrey": (112, 128, 144), "snow": (255, 250, 250), "springgreen": (0, 255, 127),
    "steelblue": (70, 130, 180), "tan": (210, 180, 140), "teal": (0, 128, 128),
    "thistle": (216, 191, 216), "tomato": (255, 99, 71), "turquoise": (64, 224, 208),
    "violet": (238, 130, 238), "wheat": (245, 222, 179), "white": (255, 255, 255),
    "whitesmoke": (245, 245, 245), "yellow": (255, 255, 0), "yellowgreen": (154, 205, 50),
}

#: a few common names that are not in CSS, mapped to fixed values
EXTRA_COLORS: dict[str, tuple[int, int, int]] = {
    "navyblue": (0, 0, 128),
    "skyblue": (135, 206, 235),
    "lightpurple": (192, 128, 192),
    "darkpurple": (70, 0, 70),
    "darkpink": (231, 84, 128),
    "lightyellow": (255, 255, 224),
    "lightorange": (255, 200, 120),
    "darkyellow": (155, 135, 12),
    "rose": (255, 0, 127),
    "amber": (255, 191, 0),
    "scarlet": (255, 36, 0),
    "mauve": (224, 176, 255),
}

#: word pieces that appear inside multi-word CSS names ("alice blue", "fire brick", ...): they are
#: not colours on their own but let a spaced spelling of a CSS name be found in text.
NAME_PARTS: frozenset[str] = frozenset(
    ["alice", "antique", "blanched", "burly", "wood", "cadet", "cornflower", "dim", "dodger", "fire", "brick", "floral", "forest", "ghost", "golden", "rod", "honey", "dew", "hot", "indian", "lawn", "lemon", "chiffon", "medium", "midnight", "mint", "cream", "misty", "navajo", "old", "lace", "drab", "papaya", "whip", "peach", "puff", "powder", "rebecca", "rosy", "royal", "saddle", "sandy", "sea", "shell", "slate", "smoke", "spring", "steel", "almond", "aqua", "marine", "blush", "lime", "violet", "white", "navy", "sky"]
)

_HUE_MODIFIERS = {
    "reddish": "red", "pinkish": "pink", "bluish": "blue", "blueish": "blue", "greenish": "green",
    "yellowish": "yellow", "purplish": "purple", "orangish": "orange", "orangey": "orange",
    "brownish": "brown", "greyish": "grey", "grayish": "gray",
}


def _mix(c: tuple[int, int, int], target: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(a + t * (b - a) + 0.5))) for a, b in zip(c, target))  # type: ignore[return-value]


def _scale(c: tuple[int, int, int], s: float) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(a * s + 0.5))) for a in c)  # type: ignore[return-value]


def _bright(c: tuple[int, int, int]) -> tuple[int, int, int]:
    m = max(c)
    return c if m == 0 else _scale(c, 255.0 / m)


def _hue(name: str):
    return lambda c: _mix(c, CSS_COLORS[name], 0.3)


#: modifier word -> function applied to the RGB of the colour it qualifies (see module docstring)
MODIFIERS = {
    "light": lambda c: _mix(c, (255, 255, 255), 0.5),
    "pale": lambda c: _mix(c, (255, 255, 255), 0.65),
    "dark": lambda c: _scale(c, 0.55),
    "deep": lambda c: _scale(c, 0.75),
    "bright": _bright,
    **{word: _hue(hue) for word, hue in _HUE_MODIFIERS.items()},
}
