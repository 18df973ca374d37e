"""Tokenizers of the small text encoder: prompts -> token ids (and the colours the prompts name).

Two tokenizers, registered in :data:`TOKENIZERS` and named by ``TextEncoderConfig.tokenizer``:

- ``"bytes"``: the identity on UTF-8 bytes (ids 0..255, ``PAD = 256``, ``CLS = 257``). Nothing is
  out of vocabulary, but a model must learn to spell: a 19-class palette is ~1,100 tokens, and the
  number ``(128, 64, 128)`` is fourteen tokens whose value the network has to assemble itself.
- ``"words"``: one token per word, number or punctuation mark, each word hashed (CRC-32, stable
  across processes and machines) into ``buckets`` ids, and every colour the prompt names -- hex,
  triples in any bracket, ``rgb(...)``, colour names with modifiers, exactly as
  :func:`openbanana.tasks.colors.find_colors` reads them -- carries its RGB value beside its id.
  A numeric colour is one ``COLOR`` token; a named colour keeps its words (``"light"``, ``"blue"``),
  each carrying the value. The same palette is ~80 tokens, and a colour's value reaches the network
  as a number instead of a spelling, the way numeric embeddings are given to language models.

Both return a :class:`Tokens`; the byte tokenizer's colour arrays are all zero.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from openbanana.errors import InstructionError
from openbanana.registry import Registry
from openbanana.tasks.colors import find_colors

__all__ = ["TOKENIZERS", "Tokens", "byte_tokens", "vocab_size", "word_pieces", "word_tokens"]

BYTE_PAD, BYTE_CLS = 256, 257
WORD_PAD, WORD_CLS, WORD_COLOR = 0, 1, 2
_WORD_SPECIALS = 3
_PIECE_RE = re.compile(r"[a-z]+|\d+|[^\sa-z\d]")


@dataclass
class Tokens:
    """A tokenized batch.

    Attributes:
        ids: ``[B, L]`` int64 token ids.
        mask: ``[B, L]`` bool, True on real tokens (``CLS`` first, then the prompt), False on padding.
        rgb: ``[B, L, 3]`` float32 colour of each token in [0, 1] (0 where none).
        has_rgb: ``[B, L]`` bool, True on tokens that name a colour.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    rgb: torch.Tensor
    has_rgb: torch.Tensor


#: tokenizer name -> ``fn(prompts, max_len, buckets) -> Tokens``
TOKENIZERS: Registry[Callable[[list[str], int, int], Tokens]] = Registry("tokenizer")


def vocab_size(tokenizer: str, buckets: int) -> int:
    """Rows of the token embedding a tokenizer needs."""
    TOKENIZERS.get(tokenizer)  # a clear error for an unknown name
    return BYTE_CLS + 1 if tokenizer == "bytes" else _WORD_SPECIALS + buckets


def _check(prompts: list[str], max_len: int) -> None:
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError(f"prompts must be a list of str, got {type(prompts).__name__}")
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2, got {max_len}")


@TOKENIZERS.register("bytes")
def byte_tokens(prompts: list[str], max_len: int = 160, buckets: int = 0) -> Tokens:
    """UTF-8 bytes of each prompt, prefixed by ``CLS``, truncated to ``max_len`` and padded to the
    longest (``L = min(max_len, longest + 1)``; bytes past ``max_len - 1`` are lost)."""
    _check(prompts, max_len)
    raw = [p.encode("utf-8")[: max_len - 1] for p in prompts]
    length = 1 + max((len(b) for b in raw), default=0)
    # one buffer for the whole batch (a uint8 view of the joined bytes), no per-prompt tensors
    ids = torch.full((len(raw), length), BYTE_PAD, dtype=torch.long)
    ids[:, 0] = BYTE_CLS
    lens = torch.tensor([len(b) for b in raw], dtype=torch.long)
    if int(lens.sum()):
        flat = torch.frombuffer(bytearray(b"".join(raw)), dtype=torch.uint8).long()
        rows = torch.repeat_interleave(torch.arange(len(raw)), lens)
        cols = torch.arange(len(flat)) - torch.repeat_interleave(lens.cumsum(0) - lens, lens) + 1
        ids[rows, cols] = flat
    return Tokens(ids, ids != BYTE_PAD, torch.zeros(*ids.shape, 3), torch.zeros(ids.shape, dtype=torch.bool))


def _bucket(piece: str, buckets: int) -> int:
    return _WORD_SPECIALS + zlib.crc32(piece.encode("utf-8")) % buckets


@functools.lru_cache(maxsize=65536)
def word_pieces(prompt: str) -> tuple[tuple[str | None, tuple[int, int, int] | None], ...]:
    """The prompt as ``(piece, rgb)`` pairs: ``(word, None)`` for plain text, ``(None, rgb)`` for a
    numeric colour, ``(word, rgb)`` for each word of a colour name. Text is lower-cased; a prompt
    whose colours cannot be read (a channel above 255, a malformed hex) is read as plain words."""
    try:
        spans = find_colors(prompt)
    except InstructionError:
        spans = []
    out: list[tuple[str | None, tuple[int, int, int] | None]] = []
    pos = 0
    for s in spans:
        out.extend((p, None) for p in _PIECE_RE.findall(prompt[pos : s.start].lower()))
        if s.numeric:
            out.append((None, tuple(int(c) for c in s.rgb)))
        else:
            out.extend((p, tuple(int(c) for c in s.rgb)) for p in _PIECE_RE.findall(s.text.lower()))
        pos = s.end
    out.extend((p, None) for p in _PIECE_RE.findall(prompt[pos:].lower()))
    return tuple(out)


@TOKENIZERS.register("words")
def word_tokens(prompts: list[str], max_len: int = 160, buckets: int = 4096) -> Tokens:
    """Words, numbers and punctuation hashed into ``buckets`` ids, colours with their RGB (see the
    module docstring), prefixed by ``CLS``, truncated to ``max_len`` and padded to the longest."""
    _check(prompts, max_len)
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    rows = [word_pieces(p)[: max_len - 1] for p in prompts]
    length = 1 + max((len(r) for r in rows), default=0)
    ids = [[WORD_CLS] + [WORD_COLOR if piece is None else _bucket(piece, buckets) for piece, _ in row]
           + [WORD_PAD] * (length - 1 - len(row)) for row in rows]
    rgb = [[(0, 0, 0)] + [c or (0, 0, 0) for _, c in row] + [(0, 0, 0)] * (length - 1 - len(row)) for row in rows]
    has = [[False] + [c is not None for _, c in row] + [False] * (length - 1 - len(row)) for row in rows]
    ids_t = torch.tensor(ids, dtype=torch.long).view(len(rows), length)
    rgb_t = torch.tensor(rgb, dtype=torch.float32).view(len(rows), length, 3) / 255.0
    return Tokens(ids_t, ids_t != WORD_PAD, rgb_t, torch.tensor(has, dtype=torch.bool).view(len(rows), length))
