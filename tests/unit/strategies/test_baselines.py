"""Baseline strategies, each picking as named once run through the decision rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from routeiq_sidecar.engine.decide import Constraints, rank, resolve_lambda
from routeiq_sidecar.strategies.base import QualityEstimate, StrategyInput
from routeiq_sidecar.strategies.baselines import (
    LENGTH_PIVOT_TOKENS,
    CheapestStrategy,
    LengthStrategy,
    RandomStrategy,
    StrongestStrategy,
)
from routeiq_sidecar.strategies.priors import capability_priors
from routeiq_sidecar.text import SelectedText
from routeiq_sidecar.types import CandidateSpec, Signals

CHEAP = CandidateSpec("cheap", "openai/gpt-4o-mini", 0.15, 0.6)
MID = CandidateSpec("mid", "openai/gpt-4o", 2.5, 10.0)
STRONG = CandidateSpec("strong", "anthropic/claude-opus-4", 15.0, 75.0)
CANDS = (MID, STRONG, CHEAP)


def make_input(
    cands: tuple[CandidateSpec, ...] = CANDS, *, tokens: int = 20, seed: int = 1
) -> StrategyInput:
    priors, sources = capability_priors(cands)
    text = SelectedText("some prompt", tokens, 1, False)
    signals = Signals("factual_qa", "simple", 0.8, 0.1, tokens)
    return StrategyInput(np.zeros(4, np.float32), text, signals, cands, priors, sources, seed)


def pick(strategy: object, inp: StrategyInput, profile: str = "auto") -> str:
    """As the engine does: predict, lambda 0 unless cost-aware, rank, take the top."""
    est: QualityEstimate = strategy.predict(inp)  # type: ignore[attr-defined]
    assert est.quality.shape == (len(inp.candidates),)
    assert len(est.sources) == len(inp.candidates)
    lam = resolve_lambda(profile, None) if est.cost_aware else 0.0
    ranking = rank(
        inp.candidates,
        est.quality,
        est.sources,
        constraints=Constraints((), None, inp.text.estimated_prompt_tokens, profile),
        lam=lam,
        signals=inp.signals,
        output_tokens=300,
    )
    return ranking[0].candidate_id


# --- random
def test_random_is_deterministic_per_seed() -> None:
    s = RandomStrategy()
    a = s.predict(make_input(seed=123))
    b = s.predict(make_input(seed=123))
    np.testing.assert_array_equal(a.quality, b.quality)
    assert pick(s, make_input(seed=123)) == pick(s, make_input(seed=123))
    assert not a.cost_aware
    assert a.sources == ("random",) * 3
    assert np.all((a.quality >= 0) & (a.quality < 1))


def test_random_varies_across_seeds() -> None:
    s = RandomStrategy()
    picks = {pick(s, make_input(seed=seed)) for seed in range(40)}
    assert len(picks) >= 2
    assert not np.array_equal(
        s.predict(make_input(seed=1)).quality, s.predict(make_input(seed=2)).quality
    )


# --- cheapest
@pytest.mark.parametrize("profile", ["auto", "premium", "eco"])
def test_cheapest_picks_the_cheapest(profile: str) -> None:
    assert pick(CheapestStrategy(), make_input(), profile) == "cheap"


def test_cheapest_quality_and_sources() -> None:
    est = CheapestStrategy().predict(make_input())
    assert not est.cost_aware
    assert est.sources == ("price",) * 3
    assert est.quality[1] == pytest.approx(0.0)  # the most expensive
    assert est.quality.max() <= 1.0


def test_cheapest_with_free_candidates_only() -> None:
    free = (CandidateSpec("f1", "a"), CandidateSpec("f2", "b"))
    est = CheapestStrategy().predict(make_input(free))
    np.testing.assert_array_equal(est.quality, [1.0, 1.0])
    assert pick(CheapestStrategy(), make_input(free)) == "f1"


# --- strongest
@pytest.mark.parametrize("profile", ["auto", "eco"])
def test_strongest_picks_the_strongest(profile: str) -> None:
    assert pick(StrongestStrategy(), make_input(), profile) == "strong"


def test_strongest_follows_quality_prior() -> None:
    cands = (CHEAP, CandidateSpec("dark-horse", "local/x", 0.1, 0.1, quality_prior=0.99), STRONG)
    est = StrongestStrategy().predict(make_input(cands))
    assert est.sources == ("price", "prior", "price")
    assert pick(StrongestStrategy(), make_input(cands)) == "dark-horse"


def test_strongest_does_not_mutate_priors() -> None:
    inp = make_input()
    est = StrongestStrategy().predict(inp)
    est.quality[:] = 0
    assert inp.priors.max() > 0


# --- length
def test_length_short_prompt_picks_cheap() -> None:
    assert pick(LengthStrategy(), make_input(tokens=1)) == "cheap"
    assert pick(LengthStrategy(), make_input(tokens=0)) == "cheap"


def test_length_long_prompt_picks_strong() -> None:
    assert pick(LengthStrategy(), make_input(tokens=LENGTH_PIVOT_TOKENS)) == "strong"
    assert pick(LengthStrategy(), make_input(tokens=50 * LENGTH_PIVOT_TOKENS)) == "strong"


def test_length_quality_falls_with_length() -> None:
    s = LengthStrategy()
    q = [s.predict(make_input(tokens=t)).quality for t in (1, 10, 100, 1000, LENGTH_PIVOT_TOKENS)]
    for a, b in itertools.pairwise(q):
        assert np.all(b <= a + 1e-12)
    np.testing.assert_allclose(q[0], 1.0)
    np.testing.assert_allclose(q[-1], make_input().priors)
    est = s.predict(make_input(tokens=100))
    assert est.cost_aware
    assert "100 tokens" in est.note
