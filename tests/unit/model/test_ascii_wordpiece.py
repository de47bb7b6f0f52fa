"""The ASCII WordPiece path gives the ids ``tokenizers`` gives for the bundle's own tokenizer
(the all-MiniLM-L6-v2 ``tokenizer.json`` as ``export/minilm.py`` writes it), on generated ASCII
texts, the benchmark prompts and the edge cases, and steps aside where it does not apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from routeiq_sidecar.bundle.minilm_weights import minilm_model_dir
from routeiq_sidecar.export.minilm import TOKENIZER_FILE, _write_tokenizer
from routeiq_sidecar.loadtest.prompts import mixed_requests, selected_text
from routeiq_sidecar.model.ascii_wordpiece import AsciiWordPiece, ascii_wordpiece
from routeiq_sidecar.model.tokenizer import BatchTokenizer

MAX_LEN = 256


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tok") / TOKENIZER_FILE
    _write_tokenizer(minilm_model_dir() / TOKENIZER_FILE, out, MAX_LEN)
    return out


@pytest.fixture(scope="module")
def pair(tokenizer_path: Path) -> tuple[AsciiWordPiece, Tokenizer]:
    fast = ascii_wordpiece(json.loads(tokenizer_path.read_text()), MAX_LEN)
    assert fast is not None
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_LEN)
    return fast, tok


def reference(tok: Tokenizer, text: str) -> list[int]:
    return list(tok.encode(text, add_special_tokens=True).ids)


WORDS = st.sampled_from(
    ["the", "Hello", "unaffable", "x", "2+2", "don't", "C++", "e.g.", "naïve", "[CLS]", "[MASK]",
     "__init__", "1e-9", "https://a.b/c?d=e", "\t", "\n", "\r\n", "\x0b", "\x00", "\x7f", "\x1f",
     "a" * 101, "z" * 100, "supercalifragilisticexpialidocious", "{\"k\": [1, 2]}", "  "])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=400))
def test_any_ascii_text_gets_the_same_ids(
    pair: tuple[AsciiWordPiece, Tokenizer], text: str
) -> None:
    fast, tok = pair
    got = fast.ids(text)
    if any(t in text for t in fast.added):  # matched before normalisation: not this path
        assert got is None
    else:
        assert got == reference(tok, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=300).map(" ".join))
def test_edge_words_and_truncation_get_the_same_ids(
    pair: tuple[AsciiWordPiece, Tokenizer], text: str
) -> None:
    fast, tok = pair
    got = fast.ids(text)
    if not text.isascii() or "[CLS]" in text or "[MASK]" in text:
        assert got is None
    else:
        assert got == reference(tok, text)


def test_the_benchmark_prompts_get_the_same_ids(pair: tuple[AsciiWordPiece, Tokenizer]) -> None:
    fast, tok = pair
    texts = [selected_text(b) for b in mixed_requests(300, seed=1)]
    long_ones = [t for t in texts if len(reference(tok, t)) == MAX_LEN]
    assert long_ones, "the mix holds prompts that reach the truncation"
    fast_ones = 0
    for t in texts:
        got = fast.ids(t)
        if got is not None:
            fast_ones += 1
            assert got == reference(tok, t)
    assert fast_ones > len(texts) // 2


def test_the_wrapper_pads_a_mixed_batch_like_tokenizers(tokenizer_path: Path) -> None:
    bt = BatchTokenizer(tokenizer_path, MAX_LEN)
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.enable_truncation(max_length=MAX_LEN)
    texts = ["What is 2+2?", "Écris un poème", "[CLS] spelled out", "a " * 400, ""]
    ids, mask = bt.encode(texts)
    for row, text in enumerate(texts):
        want = reference(tok, text)
        assert ids[row, : len(want)].tolist() == want
        assert mask[row].sum() == len(want) and not ids[row, len(want):].any()
        assert bt.ids(text) == bt.library_ids(text) == want
        assert bt.count(text) == len(want)


def test_only_a_lowercasing_bert_tokenizer_gets_the_fast_path(
    tokenizer_path: Path, tmp_path: Path
) -> None:
    spec = json.loads(tokenizer_path.read_text())
    spec["normalizer"]["lowercase"] = False
    cased = tmp_path / "cased.json"
    cased.write_text(json.dumps(spec))
    assert ascii_wordpiece(spec, MAX_LEN) is None
    bt = BatchTokenizer(cased, MAX_LEN)  # still tokenizes, through `tokenizers`
    assert bt.ids("Hello") == reference(Tokenizer.from_file(str(cased)), "Hello")


def test_the_word_memory_stays_bounded(pair: tuple[AsciiWordPiece, Tokenizer]) -> None:
    fast, tok = pair
    fast._words.clear()
    text = " ".join(["x" * 5000, "y" * 101, "hello"])
    assert fast.ids(text) == reference(tok, text)
    assert set(fast._words) == {"hello"}  # words longer than 100 characters are one [UNK]
