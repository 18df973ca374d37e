"""Query rewriting hooks for reasoning segmentation.

The paper rewrites each ReasonSeg query into a plain referring expression with an MLLM before the
generator sees it. Here a rewriter is any callable ``(query: str, image: uint8 (H, W, 3)) -> str``
registered in :data:`QUERY_REWRITERS`; the default ``identity`` passes the query through.
Register your own (e.g. a call to a local MLLM) and pass ``--query-rewriter NAME``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from openbanana.registry import Registry

QueryRewriter = Callable[[str, np.ndarray], str]

#: name -> rewriter
QUERY_REWRITERS: Registry[QueryRewriter] = Registry("query rewriter")


@QUERY_REWRITERS.register("identity")
def identity(query: str, image: np.ndarray) -> str:
    """The query unchanged."""
    return query


#: spec keys that hold the referring expression(s) a rewriter acts on
EXPRESSION_KEYS = ("expression", "expressions", "query", "queries")


def rewrite_spec(spec: dict[str, Any], rewriter: QueryRewriter, image: np.ndarray) -> dict[str, Any]:
    """A copy of ``spec`` whose expression entries went through ``rewriter``; others unchanged."""
    out = dict(spec)
    for k in EXPRESSION_KEYS:
        if k not in out:
            continue
        v = out[k]
        out[k] = rewriter(v, image) if isinstance(v, str) else [rewriter(x, image) for x in v]
        if not all(isinstance(x, str) and x for x in ([out[k]] if isinstance(out[k], str) else out[k])):
            raise ValueError(f"query rewriter: expected non-empty strings back, got {out[k]!r}")
    return out
