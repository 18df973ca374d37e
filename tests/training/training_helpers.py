"""Shared by the multi-process training tests (DDP, FSDP, DeepSpeed): a micro model and a free port."""

from __future__ import annotations

import socket

#: the smallest tiny-backend configuration the training tests launch across processes
MICRO = {"size": "tiny-xs", "channels": 16, "channel_mults": [1, 2], "attn_levels": [1], "emb_dim": 32,
         "text": {"dim": 32, "layers": 1, "heads": 2}}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a process group's master)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
