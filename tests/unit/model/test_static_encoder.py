"""The static encoder serves the distilled matrix: normalised, deterministic, same tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.export.static_distill import STATIC_FILE, distill_static
from routeiq_sidecar.model.static_encoder import StaticEncoder
from routeiq_sidecar.model.tokenizer import BatchTokenizer

TEXTS = [
    "hello world",
    "Explain how a hash map handles collisions, with a short Python example.",
    "why?",
    "Write a haiku about routing requests between models " * 10,
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("static") / "tiny"
    build_bundle(path, encoder="tiny-random", name="static-test")
    enc = json.loads((path / "manifest.json").read_text())["encoder"]
    distill_static(path, enc, dims=24)
    return path


@pytest.fixture(scope="module")
def tokenizer(folder: Path) -> BatchTokenizer:
    return BatchTokenizer(folder / "tokenizer.json", 256)


@pytest.fixture(scope="module")
def encoder(folder: Path, tokenizer: BatchTokenizer) -> StaticEncoder:
    return StaticEncoder(folder / STATIC_FILE, tokenizer)


def test_vectors_are_normalised(encoder: StaticEncoder) -> None:
    out = encoder.encode(TEXTS)
    assert out.vectors.shape == (len(TEXTS), 24) and out.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.dim == 24


def test_deterministic_and_batch_independent(encoder: StaticEncoder) -> None:
    batch = encoder.encode(TEXTS).vectors
    again = encoder.encode(TEXTS).vectors
    assert np.array_equal(batch, again)
    for text, row in zip(TEXTS, batch, strict=True):
        np.testing.assert_allclose(encoder.encode([text]).vectors[0], row, atol=1e-6)


def test_uses_the_bundle_tokenizer_ids(
    encoder: StaticEncoder, tokenizer: BatchTokenizer, folder: Path
) -> None:
    """The vector is the normalised sum of the matrix rows of the tokenizer's own ids."""
    matrix = np.load(folder / STATIC_FILE).astype(np.float64)
    ids, mask = tokenizer.encode([TEXTS[1]])
    expected = matrix[ids[0, : int(mask.sum())]].sum(axis=0)
    expected /= np.linalg.norm(expected)
    np.testing.assert_allclose(encoder.encode([TEXTS[1]]).vectors[0], expected, atol=1e-5)
    assert encoder.tokenizer is tokenizer
    assert tokenizer.vocab_size == len(matrix)


def test_different_texts_differ(encoder: StaticEncoder) -> None:
    v = encoder.encode(TEXTS[:3]).vectors
    sims = v @ v.T
    assert (sims[np.triu_indices(3, 1)] < 0.999).all()


def test_text_of_special_tokens_only_is_zero_not_nan(encoder: StaticEncoder) -> None:
    out = encoder.encode(["", "[UNK]"]).vectors
    assert np.isfinite(out).all() and not out.any()


def test_refuses_a_matrix_narrower_than_the_vocabulary(
    folder: Path, tokenizer: BatchTokenizer, tmp_path: Path
) -> None:
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((10, 4), np.float16))
    with pytest.raises(BundleError, match="10 rows for a tokenizer"):
        StaticEncoder(small, tokenizer)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(10, np.float16))
    with pytest.raises(BundleError, match="expected a 2-D float matrix"):
        StaticEncoder(bad, tokenizer)
