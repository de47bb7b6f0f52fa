"""The eval-only transfer baselines (training/transfer_baselines.py, transfer_features.py) on
small synthetic files: hard prompts lie along one embedding direction and are longer."""

from __future__ import annotations

import numpy as np
import pytest

from routeiq_sidecar.training.difficulty import FilePart
from routeiq_sidecar.training.transfer_baselines import (
    file_weights,
    fit_irt,
    fit_irt_items,
    fit_mf_descriptor,
    fit_ridge,
    fit_structural,
    prompt_inputs,
)
from routeiq_sidecar.training.transfer_features import FEATURES, feature_table, prompt_features

DIM = 8


def _file(name: str, models: tuple[str, ...], levels: tuple[float, ...], n: int,
          rng: np.random.Generator) -> tuple[FilePart, np.ndarray]:
    hard = rng.random(n) < 0.5
    emb = rng.normal(0, 0.3, (n, DIM))
    emb[:, 0] += np.where(hard, 1.0, -1.0)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    tokens = np.where(hard, rng.integers(200, 400, n), rng.integers(5, 30, n)).astype(float)
    drop = np.where(hard, 0.5, 0.0)[:, None] * np.linspace(0.3, 1.0, len(models))[None, :]
    scores = (rng.random((n, len(models))) < np.asarray(levels)[None, :] - drop).astype(float)
    texts = [("Solve: 3 + 4 = ? Then 5 * 6 = ?\n- step 1\n- step 2" if h else "Hi there")
             for h in hard]
    return (FilePart(name, emb.astype(np.float32), tokens, scores, models),
            feature_table(texts, tokens))


def _files(seed: int = 0) -> tuple[list[FilePart], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    a = _file("a", ("big-a", "small-a"), (0.95, 0.8), 160, rng)
    b = _file("b", ("big-b", "mid-b", "small-b"), (0.9, 0.8, 0.7), 80, rng)
    return [a[0], b[0]], [a[1], b[1]]


def _queries() -> tuple[np.ndarray, np.ndarray]:
    emb = np.zeros((2, DIM), np.float32)
    emb[0, 0], emb[1, 0] = 1.0, -1.0  # hard, easy
    return emb, np.asarray([300.0, 10.0])


def test_features_count_structure() -> None:
    f = dict(zip(FEATURES, prompt_features("What is 2 + 3 = ?\n- a\n- b\n```def f(): pass```",
                                           20), strict=True))
    assert f["log_tokens"] == pytest.approx(np.log(20))
    assert f["numbers"] == pytest.approx(np.log1p(2)) == f["list_items"]
    assert f["sub_questions"] == pytest.approx(np.log1p(1)) and f["code_markers"] > 0
    assert f["answer_choices"] == 0.0
    assert feature_table([], np.zeros(0)).shape == (0, len(FEATURES))


def test_each_file_weighs_the_same() -> None:
    parts, _ = _files()
    w = file_weights(parts)
    assert abs(w.mean() - 1) < 1e-9 and abs(w[:160].sum() - w[160:].sum()) < 1e-9


def test_weighted_ridge_recovers_a_line() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    y = 2.0 * x[:, 0] - x[:, 1] + 0.5
    r = fit_ridge(x, y, np.ones(300), alpha=1e-6)
    np.testing.assert_allclose(r.predict(x), y, atol=1e-4)


def test_irt_orders_models_and_prompts() -> None:
    scores = np.asarray([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, np.nan, 0]], float)
    theta, b = fit_irt_items(scores, np.ones(4), steps=500)
    assert theta[0] > theta[1] > theta[2]
    assert b[1] > b[0] > b[2]


def test_structural_and_irt_call_hard_prompts_harder() -> None:
    parts, feats = _files()
    emb, tokens = _queries()
    structural = fit_structural(parts, feats)
    d = structural.difficulty(feature_table(["Solve: 1 + 2 = ?\n- step 1", "Hi"], tokens))
    assert 0.0 <= d[1] < d[0] <= 1.0
    irt = fit_irt(parts)
    d = irt.difficulty(prompt_inputs(emb, tokens))
    assert 0.0 <= d[1] < d[0] <= 1.0


def test_mf_descriptor_places_unseen_models_by_ability() -> None:
    parts, _ = _files()
    mf = fit_mf_descriptor(parts, steps=400)
    emb, tokens = _queries()
    q = mf.quality(prompt_inputs(emb, tokens), ["new-strong", "new-weak", "big-a"],
                   np.asarray([0.95, 0.5, 0.0]))
    assert q.shape == (2, 3) and np.all((q >= 0) & (q <= 1))
    assert q[0, 0] > q[0, 1]  # the stronger descriptor is predicted better on a hard prompt
    assert q[1, 2] > q[0, 2]  # a known model: its learned vector, better on the easy prompt
