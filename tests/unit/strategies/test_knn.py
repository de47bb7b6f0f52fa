"""knn head on hand-computed cases, its file round trip, and the trained-strategy contract
(candidate matching, prior fallback for unknown models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.strategies.base import StrategyInput
from routeiq_sidecar.strategies.knn import KnnHead
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.priors import capability_priors
from routeiq_sidecar.strategies.trained import TrainedStrategy
from routeiq_sidecar.text import select_text
from routeiq_sidecar.types import CandidateSpec, Signals

MODELS = ("big/strong-model", "small-model")


def unit(*v: float) -> np.ndarray:
    a = np.asarray(v, np.float32)
    return a / np.linalg.norm(a)


# three stored prompts on the unit circle; scores (strong, small), NaN = not scored
EMB = np.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
SCORES = np.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, np.nan]], np.float32)


def head(**kw: float) -> KnnHead:
    return KnnHead.from_matrix(MODELS, EMB, SCORES, **kw)


def test_means_skip_missing_scores() -> None:
    assert head().means.tolist() == pytest.approx([2 / 3, 0.5])


def test_k1_without_shrink_returns_the_nearest_prompts_scores() -> None:
    h = head(k=1, temperature=0.05, shrink=0.0)
    pred = h.predict(np.stack([unit(1, 0.1), unit(0.1, 1)]))
    assert pred.tolist() == [pytest.approx([1.0, 0.0]), pytest.approx([0.0, 1.0])]


def test_missing_score_falls_back_to_the_models_mean() -> None:
    # the only neighbour (row 2) has no score for small-model: its mean (0.5) answers
    pred = head(k=1, temperature=0.05, shrink=0.0).predict(unit(1, 1)[None, :])
    assert pred[0].tolist() == pytest.approx([1.0, 0.5])


def test_similarity_weights_and_shrinkage_by_hand() -> None:
    q = unit(1, 0.2)
    t, shrink, k = 0.5, 1.0, 2
    sims = EMB @ q
    top = np.argsort(-sims)[:k]  # rows 0 and 2
    w = np.exp((sims[top] - sims[top].max()) / t)
    w /= w.sum()
    means = np.asarray([2 / 3, 0.5])
    strong = (w @ SCORES[top, 0] + shrink / k * means[0]) / (w.sum() + shrink / k)
    # small-model: row 2 has no score, so only row 0's weight counts
    small = (w[0] * SCORES[top[0], 1] + shrink / k * means[1]) / (w[0] + shrink / k)
    pred = head(k=k, temperature=t, shrink=shrink).predict(q[None, :])[0]
    assert pred.tolist() == pytest.approx([strong, small], abs=1e-6)


def test_k_larger_than_the_data_uses_every_row() -> None:
    h = head(k=50, temperature=100.0, shrink=0.0)
    assert h.k == 3
    pred = h.predict(unit(1, 0)[None, :])[0]
    assert pred.tolist() == pytest.approx([2 / 3, 0.5], abs=0.01)  # ~uniform weights


def test_batch_prediction_matches_row_by_row() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(700, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scores = (rng.random((700, 2)) > 0.5).astype(np.float32)
    h = KnnHead.from_matrix(MODELS, emb, scores, k=7, temperature=0.1, shrink=1.0)
    batch = h.predict(emb[:600])  # more rows than one similarity block
    rows = np.concatenate([h.predict(emb[i : i + 1]) for i in range(0, 600, 97)])
    assert batch[::97] == pytest.approx(rows, abs=1e-6)
    assert np.all((batch >= 0) & (batch <= 1))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    h = head(k=2, temperature=0.1, shrink=1.0)
    h.save(tmp_path / "knn.npz")
    back = KnnHead.load(tmp_path / "knn.npz", k=2, temperature=0.1, shrink=1.0)
    assert back.models == MODELS
    assert back.embeddings.dtype == np.float32
    q = np.stack([unit(1, 0.3), unit(-1, 2)])
    assert back.predict(q) == pytest.approx(h.predict(q), abs=2e-3)  # float16 storage


def strategy_input(candidates: tuple[CandidateSpec, ...], emb: np.ndarray) -> StrategyInput:
    priors, sources = capability_priors(candidates)
    sel = select_text((), "what is 2 + 2?", 1000)
    signals = Signals("math", "simple", 0.9, 0.1, sel.estimated_prompt_tokens)
    return StrategyInput(emb, sel, signals, candidates, priors, sources, seed=1)


def test_strategy_matches_candidates_and_falls_back_to_priors() -> None:
    index = ModelIndex(MODELS, {"tiny": "small-model"})
    strat = TrainedStrategy("knn", head(k=1, temperature=0.05, shrink=0.0), index)
    cands = (
        CandidateSpec("a", "openrouter/big/strong-model"),  # last segment matches
        CandidateSpec("b", "acme/TINY"),  # alias, case-insensitive, provider stripped
        CandidateSpec("c", "mystery-model", quality_prior=0.77),
        CandidateSpec("d", "other-model", input_cost_per_mtok=3, output_cost_per_mtok=15),
    )
    est = strat.predict(strategy_input(cands, unit(0, 1)))
    assert est.quality[:3].tolist() == pytest.approx([0.0, 1.0, 0.77])
    priors, _ = capability_priors(cands)
    assert est.quality[3] == pytest.approx(priors[3])
    assert est.sources == ("knn", "knn", "prior", "price")
    assert "2 of 4" in est.note


def test_strategy_without_known_candidates_uses_only_priors() -> None:
    strat = TrainedStrategy("knn", head(), ModelIndex(MODELS))
    cands = (CandidateSpec("x", "gpt-4o", quality_prior=0.9), CandidateSpec("y", "mini"))
    est = strat.predict(strategy_input(cands, unit(1, 0)))
    priors, sources = capability_priors(cands)
    assert est.quality.tolist() == pytest.approx(priors.tolist())
    assert est.sources == sources
