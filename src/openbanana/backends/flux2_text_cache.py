"""Prompt embeddings computed once and kept as safetensors, so the text encoder can leave the GPU.

FLUX.2 [klein] reads a prompt through a Qwen3 language model (4B parameters for klein 4B: about as
large as the transformer being tuned). Training prompts come from a finite set of instruction
templates, so each distinct prompt is encoded once, stored under the SHA-256 of
``(encoder fingerprint, prompt)`` and read back from memory or disk on every later step.

A cache entry is one safetensors file ``<dir>/<hash[:2]>/<hash>.safetensors`` holding
``prompt_embeds`` ``[L, D]`` (``L`` = the padded text length, ``D`` = 3 x the encoder's width) with
the prompt text in its metadata, checked on read so a hash collision can never pass silently.
At 512 tokens and ``D`` = 7680 in bf16 an entry is about 7.9 MB.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def prompt_key(prompt: str, fingerprint: str) -> str:
    """Hex SHA-256 of the encoder fingerprint and the prompt (the cache key)."""
    h = hashlib.sha256()
    h.update(fingerprint.encode("utf-8"))
    h.update(b"\x00")
    h.update(prompt.encode("utf-8"))
    return h.hexdigest()


class TextEmbeddingCache:
    """Prompt -> ``[L, D]`` embedding, in memory (LRU) and optionally on disk.

    Args:
        fingerprint: identifies the text encoder and how it was read (model, layers, length, dtype);
            entries made under another fingerprint are never returned.
        directory: where entries are written/read; None keeps the cache in memory only.
        max_in_memory: how many entries the in-memory LRU keeps (disk keeps all).
    """

    def __init__(self, fingerprint: str, directory: str | Path | None = None, max_in_memory: int = 256):
        if max_in_memory < 0:
            raise ValueError(f"max_in_memory must be >= 0, got {max_in_memory}")
        self.fingerprint = fingerprint
        self.directory = None if directory is None else Path(directory)
        self.max_in_memory = max_in_memory
        self._memory: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.safetensors"

    def _remember(self, key: str, value: torch.Tensor) -> None:
        if self.max_in_memory == 0:
            return
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_in_memory:
            self._memory.popitem(last=False)

    def get(self, prompt: str) -> torch.Tensor | None:
        """The cached ``[L, D]`` embedding of ``prompt`` (CPU), or None."""
        key = prompt_key(prompt, self.fingerprint)
        if key in self._memory:
            self._memory.move_to_end(key)
            self.hits += 1
            return self._memory[key]
        if self.directory is not None:
            path = self._path(key)
            if path.is_file():
                with safe_open(str(path), framework="pt") as f:
                    meta = f.metadata() or {}
                if meta.get("prompt") != prompt or meta.get("fingerprint") != self.fingerprint:
                    raise ValueError(f"text cache entry {path} does not belong to prompt {prompt!r}")
                value = load_file(str(path))["prompt_embeds"]
                self._remember(key, value)
                self.hits += 1
                return value
        self.misses += 1
        return None

    def put(self, prompt: str, embeds: torch.Tensor) -> None:
        """Store ``embeds`` ``[L, D]`` for ``prompt`` (atomic write when a directory is set)."""
        if embeds.ndim != 2:
            raise ValueError(f"expected a [L, D] embedding, got shape {tuple(embeds.shape)}")
        value = embeds.detach().to("cpu").contiguous()
        key = prompt_key(prompt, self.fingerprint)
        self._remember(key, value)
        if self.directory is not None:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            save_file({"prompt_embeds": value}, str(tmp),
                      metadata={"prompt": prompt, "fingerprint": self.fingerprint})
            os.replace(tmp, path)

    def lookup(
        self,
        prompts: Sequence[str],
        encode: Callable[[list[str]], torch.Tensor] | None,
        batch_size: int = 8,
    ) -> torch.Tensor:
        """Embeddings ``[B, L, D]`` for ``prompts``; misses are encoded with ``encode`` and stored.

        Args:
            prompts: B prompt strings (duplicates are encoded once).
            encode: list of prompts -> ``[n, L, D]``; None means the encoder is gone, and a miss
                raises a ValueError naming the prompt.
            batch_size: prompts per ``encode`` call.
        """
        found: dict[str, torch.Tensor] = {}
        missing: list[str] = []
        for p in dict.fromkeys(prompts):
            value = self.get(p)
            if value is None:
                missing.append(p)
            else:
                found[p] = value
        if missing and encode is None:
            raise ValueError(
                f"{len(missing)} prompt(s) are not in the text-embedding cache and the text encoder was "
                f"released, e.g. {missing[0]!r}; precompute them first (precompute_text_embeddings)"
            )
        for i in range(0, len(missing), batch_size):
            chunk = missing[i : i + batch_size]
            out = encode(chunk)
            for p, e in zip(chunk, out):
                self.put(p, e)
                found[p] = e.detach().to("cpu")
        return torch.stack([found[p] for p in prompts])

    def __len__(self) -> int:
        if self.directory is None or not self.directory.is_dir():
            return len(self._memory)
        return sum(1 for _ in self.directory.glob("*/*.safetensors"))
