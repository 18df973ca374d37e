"""openbanana: one image generator for every vision task.

Every task's answer is drawn as an RGB image in a fixed, invertible colour code and decoded back
into numbers; only the instruction changes. The public surface is small::

    import openbanana
    rgb = openbanana.encode("depth", depth_m)            # uint8 (H, W, 3)
    depth_m = openbanana.decode("depth", rgb).value      # float32 (H, W), metres
    palette = openbanana.parse_palette("the sky is #4682B4, road (128, 64, 128)")
    model = openbanana.load_model()                      # the default model shipped here
    out = model.predict(image, "estimate the depth")
    openbanana.metrics.depth(pred, gt)

Submodules are imported lazily so that ``import openbanana`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "encode": ("openbanana.tasks", "encode"),
    "decode": ("openbanana.tasks", "decode"),
    "parse_palette": ("openbanana.tasks.colors", "parse_palette"),
    "load_model": ("openbanana.pipeline", "load_model"),
    "OpenBananaPipeline": ("openbanana.pipeline", "OpenBananaPipeline"),
    "tasks": ("openbanana.tasks", None),
    "metrics": ("openbanana.metrics", None),
}

# spelled out (not built from ``_LAZY``) so that linters and IDEs can read it; a test keeps the two in step
__all__ = ["OpenBananaPipeline", "__version__", "decode", "encode", "load_model", "metrics", "parse_palette", "tasks"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'openbanana' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
