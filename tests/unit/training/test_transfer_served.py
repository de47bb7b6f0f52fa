"""Serving the left-out pair in batch (training/transfer_served.py) gives what the strategies
give per request, and a pair no head knows is reported as constant."""

from __future__ import annotations

import numpy as np
import pytest

from routeiq_sidecar.strategies.base import StrategyInput
from routeiq_sidecar.strategies.difficulty import DifficultyHead, DifficultyStrategy
from routeiq_sidecar.strategies.features import structural_features
from routeiq_sidecar.strategies.knn import KnnHead
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.priors import HIGH_Q, LOW_Q, capability_priors
from routeiq_sidecar.strategies.trained import TrainedStrategy
from routeiq_sidecar.text import SelectedText
from routeiq_sidecar.training.transfer_served import (
    difficulty_abilities,
    pair_aiq,
    pair_candidates,
    pair_figures,
    served_difficulty,
    served_trained,
)
from routeiq_sidecar.types import CandidateSpec, Signals

DIM = 6


def _unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True))


def _sel(tokens: int) -> SelectedText:
    return SelectedText("x " * tokens, tokens, 1, False)


def _input(vec: np.ndarray, tokens: int, cands: tuple[CandidateSpec, ...]) -> StrategyInput:
    priors, sources = capability_priors(cands)
    signals = Signals("factual_qa", "simple", 1.0, 0.2, tokens)
    return StrategyInput(vec, _sel(tokens), signals, cands, priors, sources, 0)


def _knn_strategy() -> TrainedStrategy:
    rng = np.random.default_rng(1)
    models = ("acme/big", "acme/small")
    head = KnnHead.from_matrix(models, _unit(40, 2), rng.random((40, 2)), k=5)
    return TrainedStrategy("knn", head, ModelIndex(models))


def test_pair_candidates_carry_the_file_prices_or_none() -> None:
    costs = np.asarray([[0.01, 0.001], [0.03, 0.003]])
    tokens = np.asarray([1000.0, 3000.0])
    strong, weak = pair_candidates(["s", "w"], costs, tokens, "prices")
    assert strong.input_cost_per_mtok == strong.output_cost_per_mtok == 10.0
    assert weak.input_cost_per_mtok == 1.0 and strong.quality_prior is None
    strong, weak = pair_candidates(["s", "w"], np.full((2, 2), np.nan), tokens, "declared")
    assert not strong.price_known and not weak.price_known
    assert (strong.quality_prior, weak.quality_prior) == (HIGH_Q, LOW_Q)
    # names only: the file's prices are not sent, nor any prior
    strong, weak = pair_candidates(["org/x-70b", "org/x-mini"], costs, tokens, "names")
    assert not strong.price_known and not weak.price_known and strong.quality_prior is None
    assert strong.name_priced and weak.name_priced
    with pytest.raises(ValueError, match="setting must be one of"):
        pair_candidates(["s", "w"], costs, tokens, "both")


def test_trained_batch_matches_the_strategy_per_request() -> None:
    strategy = _knn_strategy()
    # one candidate the head knows (by its last name segment), one it does not
    cands = (CandidateSpec("a", "openai/acme/big", 5.0, 15.0),
             CandidateSpec("b", "other", 0.1, 0.1))
    emb, tokens = _unit(7, 3), np.arange(5, 12)
    feats = np.stack([structural_features(_sel(int(t))) for t in tokens])
    batch = served_trained(strategy, emb, feats, cands)
    for i in range(len(emb)):
        # float32 similarities: a batch product and a one-row product may round differently
        np.testing.assert_allclose(batch[i], strategy.predict(_input(emb[i], int(tokens[i]),
                                                                     cands)).quality, rtol=1e-5)
    assert np.ptp(batch[:, 0]) > 0 and np.ptp(batch[:, 1]) == 0


def test_a_pair_no_head_knows_is_constant() -> None:
    cands = (CandidateSpec("a", "new-big", 10.0, 30.0), CandidateSpec("b", "new-small", 0.1, 0.1))
    q = served_trained(_knn_strategy(), _unit(20, 4), np.zeros((20, 5)), cands)
    rng = np.random.default_rng(5)
    fig = pair_figures(q, rng.random(20), rng.random(20))
    assert fig["constant"] and fig["apgr"] == 0.5


def test_difficulty_batch_matches_the_strategy_per_request() -> None:
    emb = _unit(30, 6)
    head = DifficultyHead(emb, np.linspace(-1, 1, 30), np.ones(30),
                          np.asarray([3.0, 1.0, 0.0, 1.0]), ("acme/big",), np.asarray([0.9]),
                          k=4, blend=0.3)
    strategy = DifficultyStrategy(head)
    cands = (CandidateSpec("a", "acme/big"), CandidateSpec("b", "unknown", 0.2, 0.2))
    q_emb, tokens = _unit(6, 7), np.asarray([3, 10, 40, 200, 900, 3000])
    batch = served_difficulty(head.difficulty(q_emb, tokens.astype(float)),
                              difficulty_abilities(head, cands))
    for i in range(len(q_emb)):
        np.testing.assert_allclose(batch[i], strategy.predict(_input(q_emb[i], int(tokens[i]),
                                                                     cands)).quality)


def test_pair_aiq_sits_between_random_and_the_oracle() -> None:
    rng = np.random.default_rng(8)
    n = 200
    hard = rng.random(n) < 0.5
    strong = np.ones(n)
    weak = np.where(hard, 0.0, 1.0)
    costs = np.tile([1.0, 0.1], (n, 1))
    informed = np.stack([np.ones(n), np.where(hard, 0.2, 0.9)], axis=1)
    a = pair_aiq(informed, np.stack([strong, weak], 1), costs)
    assert a["router"] is not None and a["random"] is not None and a["oracle"] is not None
    assert a["random"] < a["router"] <= a["oracle"] + 1e-9
