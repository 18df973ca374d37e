"""Files in and out: the one image loader, 16-bit PNGs, and per-prediction exports.

``load_image`` is the only way user images enter the project (API, CLI, server); see
:mod:`openbanana.io.images` for what it accepts and refuses, and :mod:`openbanana.io.export`
for the files a prediction is written to.
"""

from openbanana.io.images import (
    ALPHA_BACKGROUND,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    as_rgb_uint8,
    iter_inputs,
    list_inputs,
    load_image,
    save_png,
)
from openbanana.io.png16 import decode_png16, encode_png16, load_png16, save_png16

__all__ = [
    "ALPHA_BACKGROUND",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "as_rgb_uint8",
    "decode_png16",
    "encode_png16",
    "iter_inputs",
    "list_inputs",
    "load_image",
    "load_png16",
    "save_png",
    "save_png16",
]
