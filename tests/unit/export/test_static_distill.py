"""Static distillation on the tiny random BERT: deterministic, special rows zero, PCA sound."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.export.static_distill import (
    STATIC_FILE,
    distill_static,
    pca,
    special_ids,
    token_vectors,
    zipf_sif_weights,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("distill") / "tiny"
    build_bundle(path, encoder="tiny-random", name="distill-test")
    return path


def _copy(src: Path, dest: Path) -> tuple[Path, dict]:
    enc = json.loads((src / "manifest.json").read_text())["encoder"]
    dest.mkdir()
    for name in (enc["encoder"], enc["tokenizer"]):
        shutil.copy(src / name, dest / name)
    return dest, enc


def test_distillation_is_deterministic(tiny: Path, tmp_path: Path) -> None:
    a, enc = _copy(tiny, tmp_path / "a")
    b, _ = _copy(tiny, tmp_path / "b")
    da, db = distill_static(a, enc, dims=16), distill_static(b, enc, dims=16)
    assert da == db
    assert (a / STATIC_FILE).read_bytes() == (b / STATIC_FILE).read_bytes()


def test_matrix_shape_dtype_and_description(tiny: Path, tmp_path: Path) -> None:
    folder, enc = _copy(tiny, tmp_path / "c")
    desc = distill_static(folder, enc, dims=16)
    matrix = np.load(folder / STATIC_FILE)
    tok = Tokenizer.from_file(str(folder / enc["tokenizer"]))
    assert matrix.shape == (tok.get_vocab_size(with_added_tokens=True), 16)
    assert matrix.dtype == np.float16 and np.isfinite(matrix).all()
    assert desc["dim"] == 16 and desc["source_dim"] == enc["hidden_size"]
    assert desc["tokenizer"] == enc["tokenizer"] and desc["distilled_from"] == enc["encoder"]
    zero = special_ids(tok)
    assert {"[PAD]", "[UNK]", "[CLS]", "[SEP]"} <= set(desc["zero_rows"])
    assert not matrix[zero].any()
    others = np.delete(np.arange(len(matrix)), zero)
    assert (np.abs(matrix[others]).sum(axis=1) > 0).all()


def test_width_never_exceeds_the_encoder(tiny: Path, tmp_path: Path) -> None:
    folder, enc = _copy(tiny, tmp_path / "d")
    assert distill_static(folder, enc, dims=4096)["dim"] == enc["hidden_size"]


def test_token_vectors_are_the_encoder_output_of_each_token_alone(tiny: Path) -> None:
    enc = json.loads((tiny / "manifest.json").read_text())["encoder"]
    vecs = token_vectors(tiny / enc["encoder"], tiny / enc["tokenizer"], batch=4096)
    tok = Tokenizer.from_file(str(tiny / enc["tokenizer"]))
    cls, sep = tok.encode("", add_special_tokens=True).ids
    sess = ort.InferenceSession(str(tiny / enc["encoder"]), providers=["CPUExecutionProvider"])
    for t in (cls + 7, len(vecs) // 2, len(vecs) - 1):
        ids = np.asarray([[cls, t, sep]], np.int64)
        one = sess.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        np.testing.assert_allclose(vecs[t], one[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_pca_axes_are_ordered_and_sign_fixed() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) * np.asarray([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    out = pca(x, 3)
    assert out.shape == (500, 3)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    var = out.var(axis=0)
    assert var[0] > var[1] > var[2]
    flipped = pca(-x, 3)  # the same axes up to sign: the sign rule picks one
    np.testing.assert_allclose(np.abs(flipped), np.abs(out), atol=1e-9)
    total = np.var(x - x.mean(axis=0), axis=0).sum()
    assert var.sum() / total > 0.95  # the three big axes hold nearly all the variance


def test_pca_fits_on_the_given_rows_only() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4))
    rows = np.arange(200) < 150
    x[~rows] += 100.0  # outliers left out of the fit
    out = pca(x, 4, rows)
    np.testing.assert_allclose(out[rows].mean(axis=0), 0.0, atol=1e-9)


def test_sif_weights_damp_frequent_tokens() -> None:
    w = zipf_sif_weights(30522)
    assert w.shape == (30522,)
    assert np.all(np.diff(w) > 0)  # a later (rarer) token weighs more
    assert 0.0 < w[0] < 0.01 and w[-1] > 0.95
