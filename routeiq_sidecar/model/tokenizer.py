"""HF ``tokenizers`` wrapper: truncation to the bundle's length, padding to the batch's longest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer


class BatchTokenizer:
    def __init__(self, path: Path, max_length: int) -> None:
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=max_length)
        self.max_length = max_length
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ids and attention mask, int64, padded only to the longest text of this batch."""
        if len(texts) == 1:  # one prompt (most decisions): no padding, and no batch dispatch
            ids = np.asarray([self._tok.encode(texts[0], add_special_tokens=True).ids],
                             dtype=np.int64)
            return ids, np.ones_like(ids)
        encs = self._tok.encode_batch(texts, add_special_tokens=True)
        width = max((len(e.ids) for e in encs), default=1)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            n = len(e.ids)
            ids[i, :n] = e.ids
            mask[i, :n] = 1
        return ids, mask
