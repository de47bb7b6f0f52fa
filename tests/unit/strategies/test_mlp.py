"""mlp and mf heads: numpy training learns a planted signal, and the ONNX export run by
onnxruntime gives the same scores as the in-memory numpy form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.features import FEATURE_NAMES
from routeiq_sidecar.strategies.onnx_head import OnnxHead
from routeiq_sidecar.training.nn import QualityNet, TrainConfig, fit, masked_loss
from routeiq_sidecar.training.onnx_export import build_graph, write_head

MODELS = ("strong", "weak", "coder")
FEATURES = ("log_tokens", "has_code")
DIM = 16


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings, features, scores: 'weak' fails when emb[0] > 0, 'coder' needs has_code."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, DIM)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    feats = np.zeros((n, len(FEATURE_NAMES)), np.float32)
    feats[:, 0] = rng.random(n)
    feats[:, 1] = rng.random(n) > 0.5
    scores = np.stack([
        np.ones(n),
        (emb[:, 0] <= 0).astype(float),
        feats[:, 1].astype(float),
    ], axis=1)
    scores[rng.random(scores.shape) < 0.1] = np.nan  # missing scores are masked out
    return emb, feats, scores


def inputs(emb: np.ndarray, feats: np.ndarray) -> np.ndarray:
    return np.concatenate([emb, feats[:, :2]], axis=1)


@pytest.fixture(scope="module", params=["mlp", "mf"])
def trained(request: pytest.FixtureRequest) -> QualityNet:
    emb, feats, scores = planted(600, seed=1)
    cfg = TrainConfig(kind=request.param, width=16, weight_decay=1e-4, lr=1e-2, epochs=40)
    net, _ = fit(inputs(emb, feats), scores, cfg, seed=3)
    return net


def test_training_learns_the_planted_signal(trained: QualityNet) -> None:
    emb, feats, scores = planted(300, seed=2)
    pred = trained.forward(inputs(emb, feats))
    assert pred.shape == (300, 3) and np.all((pred >= 0) & (pred <= 1))
    weak_fails = emb[:, 0] > 0
    assert pred[weak_fails, 1].mean() < pred[~weak_fails, 1].mean() - 0.4
    has_code = feats[:, 1] > 0
    assert pred[has_code, 2].mean() > pred[~has_code, 2].mean() + 0.4
    assert masked_loss(trained, inputs(emb, feats), scores) < 0.35


def test_onnx_export_matches_the_numpy_form(trained: QualityNet, tmp_path: Path) -> None:
    path = write_head(trained, tmp_path / "head.onnx", "test")
    onnx.checker.check_model(onnx.load(str(path)))
    head = OnnxHead(path, MODELS, FEATURES)
    emb, feats, _ = planted(257, seed=5)
    got = head.predict(emb, feats)
    want = trained.forward(inputs(emb, feats))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-5)
    # one row at a time (the serving path) gives the same numbers as the batch
    np.testing.assert_allclose(head.predict(emb[:1], feats[:1]), got[:1], atol=1e-6)


def test_training_is_deterministic_for_a_seed() -> None:
    emb, feats, scores = planted(200, seed=1)
    cfg = TrainConfig(kind="mlp", width=8, epochs=3)
    a, _ = fit(inputs(emb, feats), scores, cfg, seed=7)
    b, _ = fit(inputs(emb, feats), scores, cfg, seed=7)
    c, _ = fit(inputs(emb, feats), scores, cfg, seed=8)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["w1"], c.params["w1"])


def test_graph_contract(trained: QualityNet) -> None:
    model = build_graph(trained, "contract")
    assert [i.name for i in model.graph.input] == ["x"]
    assert [o.name for o in model.graph.output] == ["quality"]
    assert model.opset_import[0].version == 17


def test_head_refuses_a_model_count_mismatch(trained: QualityNet, tmp_path: Path) -> None:
    path = write_head(trained, tmp_path / "head.onnx", "test")
    with pytest.raises(BundleError, match="3 outputs for 2 models"):
        OnnxHead(path, MODELS[:2], FEATURES)
