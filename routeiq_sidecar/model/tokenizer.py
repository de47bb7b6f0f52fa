"""HF ``tokenizers`` wrapper: truncation to the bundle's length, padding to the batch's longest.

ASCII prompts for a lowercasing BERT tokenizer take model/ascii_wordpiece.py's path (the same
ids, several times cheaper); everything else goes through ``tokenizers``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from routeiq_sidecar.model.ascii_wordpiece import ascii_wordpiece


class BatchTokenizer:
    def __init__(self, path: Path, max_length: int) -> None:
        spec = Path(path).read_text(encoding="utf-8")  # read once, for both paths
        self._tok = Tokenizer.from_str(spec)
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=max_length)
        self.max_length = max_length
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self._fast = ascii_wordpiece(json.loads(spec), max_length)

    def ids(self, text: str) -> list[int]:
        """One text's ids, ``[CLS]`` and ``[SEP]`` included, truncated."""
        fast = self._fast.ids(text) if self._fast is not None else None
        return fast if fast is not None else self.library_ids(text)

    def library_ids(self, text: str) -> list[int]:
        """The same ids from ``tokenizers`` itself (what the ASCII path is checked against)."""
        ids: list[int] = self._tok.encode(text, add_special_tokens=True).ids
        return ids

    def count(self, text: str) -> int:
        """Tokens of ``text`` after truncation, ``[CLS]`` and ``[SEP]`` included."""
        return len(self.ids(text))

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and attention mask, int64, padded only to the longest text of this batch."""
        if len(texts) == 1:  # one prompt (most decisions): no padding, and no batch dispatch
            one = np.asarray([self.ids(texts[0])], dtype=np.int64)
            return one, np.ones_like(one)
        rows: list[list[int] | None] = [
            self._fast.ids(t) if self._fast is not None else None for t in texts
        ]
        rest = [i for i, r in enumerate(rows) if r is None]
        if rest:
            encs = self._tok.encode_batch([texts[i] for i in rest], add_special_tokens=True)
            for i, e in zip(rest, encs, strict=True):
                rows[i] = e.ids
        done = [r or [] for r in rows]
        width = max((len(r) for r in done), default=1)
        ids = np.zeros((len(done), width), dtype=np.int64)
        mask = np.zeros((len(done), width), dtype=np.int64)
        for i, r in enumerate(done):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return ids, mask
