"""BERT WordPiece ids of an ASCII prompt without the ``tokenizers`` call (the static tier's
hot path), the same ids as the bundle's ``tokenizer.json`` gives.

``tokenizers`` builds a whole ``Encoding`` (offsets, type ids, masks, words) per call: ~50 us
for the latency bench's mean prompt of ~200 characters, the largest single cost of a static
decision. For the lowercasing BERT tokenizer and an ASCII text, the steps reduce to: drop the
control characters other than tab, newline and carriage return (``clean_text``), lowercase,
split into runs of letters and digits and single punctuation characters (every printable ASCII
character that is neither, ``BertPreTokenizer``), greedy longest-match WordPiece per word
(remembered per word), truncate, add ``[CLS]`` and ``[SEP]``.

Only that exact tokenizer shape gets a fast path (:func:`ascii_wordpiece` answers None
otherwise), and only for texts that are ASCII and contain no added token's text (``[CLS]`` and
the like match before normalisation): :meth:`AsciiWordPiece.ids` answers None for the rest,
which go through ``tokenizers``. tests/unit/model/test_ascii_wordpiece.py checks the ids are
equal on generated ASCII texts and the benchmark prompts.
"""

from __future__ import annotations

import re
from typing import Any

# chr(0-8, 11, 12, 14-31, 127): control characters BERT's clean_text removes (\t \n \r stay)
_CONTROL = {c: None for c in [*range(0, 9), 11, 12, *range(14, 32), 127]}
_WORDS = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\r]")
WORD_CACHE = 1 << 16  # words remembered (cleared when full); at most max_input_chars_per_word
# characters each, so a few MB whatever the prompts hold


def _is_lowercase_bert(spec: dict[str, Any]) -> bool:
    norm, pre, model, post = (spec.get(k) or {} for k in
                              ("normalizer", "pre_tokenizer", "model", "post_processor"))
    single = [next(iter(step.values())).get("id") for step in post.get("single", [])]
    return (
        norm.get("type") == "BertNormalizer"
        and norm.get("clean_text") is True
        and norm.get("lowercase") is True
        and norm.get("strip_accents") in (None, True)  # no-ops on ASCII after lowercasing
        and pre.get("type") == "BertPreTokenizer"
        and model.get("type") == "WordPiece"
        and post.get("type") == "TemplateProcessing"
        and single == ["[CLS]", "A", "[SEP]"]
    )


class AsciiWordPiece:
    def __init__(self, spec: dict[str, Any], max_length: int) -> None:
        model = spec["model"]
        self.vocab: dict[str, int] = {str(k): int(v) for k, v in model["vocab"].items()}
        self.prefix = str(model.get("continuing_subword_prefix", "##"))
        self.max_word = int(model.get("max_input_chars_per_word", 100))
        self.unk = self.vocab[str(model["unk_token"])]
        self.cls, self.sep = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self.added = tuple(str(t["content"]) for t in spec.get("added_tokens") or ())
        self.room = max(0, max_length - 2)  # content tokens next to [CLS] and [SEP]
        self._words: dict[str, tuple[int, ...]] = {}

    def word(self, w: str) -> tuple[int, ...]:
        """Greedy longest-match-first WordPiece; a word with no split is one [UNK]."""
        if len(w) > self.max_word:
            return (self.unk,)
        out: list[int] = []
        start, n = 0, len(w)
        while start < n:
            end = n
            while end > start:
                piece = w[start:end] if start == 0 else self.prefix + w[start:end]
                got = self.vocab.get(piece)
                if got is not None:
                    out.append(got)
                    break
                end -= 1
            else:
                return (self.unk,)
            start = end
        return tuple(out)

    def ids(self, text: str) -> list[int] | None:
        """``[CLS] ... [SEP]`` ids, truncated; None: not ASCII or holds an added token's text."""
        if not text.isascii() or any(t in text for t in self.added):
            return None
        words = self._words
        out = [self.cls]
        room = self.room + 1
        for w in _WORDS.findall(text.translate(_CONTROL).lower()):
            got = words.get(w)
            if got is None:
                got = self.word(w)
                if len(w) <= self.max_word:  # an [UNK] run is not kept: bounded memory
                    if len(words) >= WORD_CACHE:
                        words.clear()
                    words[w] = got
            out.extend(got)
            if len(out) >= room:
                del out[room:]
                break
        out.append(self.sep)
        return out


def ascii_wordpiece(spec: dict[str, Any], max_length: int) -> AsciiWordPiece | None:
    """The fast path for a ``tokenizer.json`` (parsed), or None when it is not lowercasing BERT."""
    if not _is_lowercase_bert(spec):
        return None
    return AsciiWordPiece(spec, max_length)
