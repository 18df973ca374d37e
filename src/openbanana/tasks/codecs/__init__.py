"""Pure, invertible colour codecs: every task's answer as an RGB image and back.

numpy or torch in (single ``(H, W[, 3])`` or batched ``(B, H, W[, 3])``), the same kind out.
Conventions (units, frames, colour paths, invalid-value rules) are in ``docs/colour-codes.md``.
"""

from openbanana.tasks.codecs.colormaps import (
    COLORMAPS,
    Colormap,
    decode_depth_colormap,
    encode_depth_colormap,
    get_colormap,
)
from openbanana.tasks.codecs.depth import (
    CORNER_DEPTHS_M,
    PATH_CORNERS,
    PATH_RGB,
    STEPS,
    WHITE_DEPTH_M,
    WHITE_MIN_DEPTH_M,
    decode_depth,
    depth_to_unit,
    encode_depth,
    unit_to_depth,
)
from openbanana.tasks.codecs.instances import (
    InstanceDecoderParams,
    decode_instances,
    encode_instances,
    instance_colors,
)
from openbanana.tasks.codecs.mask import decode_masks, encode_masks
from openbanana.tasks.codecs.normals import FRAMES, convert_frame, decode_normals, encode_normals
from openbanana.tasks.codecs.palette import VOID, decode_labels, encode_labels

__all__ = [
    "COLORMAPS",
    "CORNER_DEPTHS_M",
    "FRAMES",
    "PATH_CORNERS",
    "PATH_RGB",
    "STEPS",
    "VOID",
    "WHITE_DEPTH_M",
    "WHITE_MIN_DEPTH_M",
    "Colormap",
    "InstanceDecoderParams",
    "convert_frame",
    "decode_depth",
    "decode_depth_colormap",
    "decode_instances",
    "decode_labels",
    "decode_masks",
    "decode_normals",
    "depth_to_unit",
    "encode_depth",
    "encode_depth_colormap",
    "encode_instances",
    "encode_labels",
    "encode_masks",
    "encode_normals",
    "get_colormap",
    "instance_colors",
    "unit_to_depth",
]
