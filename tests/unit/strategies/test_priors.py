"""Capability priors: price prior on a log scale, quality_prior wins, difficulty mapping."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routeiq_sidecar.strategies.priors import (
    HIGH_PRICE,
    HIGH_Q,
    LOW_PRICE,
    LOW_Q,
    capability_priors,
    difficulty_quality,
    price_prior,
)
from routeiq_sidecar.types import CandidateSpec

prices = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)


def test_price_prior_anchors() -> None:
    assert price_prior(0.0) == LOW_Q
    assert price_prior(-1.0) == LOW_Q
    assert price_prior(LOW_PRICE) == pytest.approx(LOW_Q)
    assert price_prior(HIGH_PRICE) == pytest.approx(HIGH_Q)
    assert price_prior(0.001) == LOW_Q  # below the scale: clamped
    assert price_prior(1000.0) == HIGH_Q  # above the scale: clamped
    mid = price_prior((LOW_PRICE * HIGH_PRICE) ** 0.5)  # log-scale midpoint
    assert mid == pytest.approx((LOW_Q + HIGH_Q) / 2)


@given(prices, prices)
def test_price_prior_monotone_and_bounded(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert LOW_Q <= price_prior(lo) <= price_prior(hi) <= HIGH_Q


def test_price_prior_strictly_increasing_inside_the_scale() -> None:
    xs = np.geomspace(LOW_PRICE * 1.01, HIGH_PRICE * 0.99, 20)
    ys = [price_prior(float(x)) for x in xs]
    assert all(b > a for a, b in itertools.pairwise(ys))


def test_capability_priors_quality_prior_wins() -> None:
    cands = (
        CandidateSpec("opus", "anthropic/claude-opus-4", 15, 75),
        CandidateSpec("tuned", "local/tuned", 0.1, 0.1, quality_prior=0.99),
        CandidateSpec("weak-but-pricey", "x/y", 15, 75, quality_prior=0.2),
        CandidateSpec("free", "local/llama"),
        CandidateSpec("free-known", "local/qwen", quality_prior=0.8),
    )
    priors, sources = capability_priors(cands)
    assert sources == ("price", "prior", "prior", "price", "prior")
    assert priors.dtype == np.float64
    np.testing.assert_allclose(priors, [price_prior(30.0), 0.99, 0.2, LOW_Q, 0.8])
    assert int(priors.argmax()) == 1


def test_capability_priors_zero_prior_is_a_prior() -> None:
    priors, sources = capability_priors((CandidateSpec("z", "m", 15, 75, quality_prior=0.0),))
    assert sources == ("prior",)
    assert priors[0] == 0.0


def test_capability_priors_empty() -> None:
    priors, sources = capability_priors(())
    assert priors.shape == (0,) and sources == ()


def test_difficulty_quality() -> None:
    priors = np.asarray([0.5, 0.8, 0.95])
    np.testing.assert_allclose(difficulty_quality(0.0, priors), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(difficulty_quality(1.0, priors), priors)
    np.testing.assert_allclose(difficulty_quality(0.5, priors), [0.75, 0.9, 0.975])
    np.testing.assert_allclose(difficulty_quality(-3.0, priors), 1.0)  # clamped
    np.testing.assert_allclose(difficulty_quality(7.0, priors), priors)  # clamped


@given(
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
    st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5),
)
def test_difficulty_quality_monotone_and_ordered(d1: float, d2: float, ps: list[float]) -> None:
    priors = np.asarray(ps)
    lo, hi = sorted((d1, d2))
    q_lo, q_hi = difficulty_quality(lo, priors), difficulty_quality(hi, priors)
    assert np.all(q_hi <= q_lo + 1e-12)  # harder prompts never raise quality
    assert np.all((q_hi >= priors - 1e-12) & (q_hi <= 1.0 + 1e-12))
    # the order of candidates by prior is kept
    order = np.argsort(priors, kind="stable")
    assert np.all(np.diff(q_hi[order]) >= -1e-12)


def test_unpriced_siblings_get_the_prior_their_names_say() -> None:
    """Two unpriced candidates of one family are no longer the same to the rule: the small
    sibling's prior is lower, so easy prompts leave it nearly as good and hard ones do not."""
    cands = (CandidateSpec("big", "meta-llama/Llama-3-70b-chat-hf", price_known=False),
             CandidateSpec("small", "meta-llama/Llama-3-8b-chat-hf", price_known=False),
             CandidateSpec("mystery", "acme/model", price_known=False))
    values, sources = capability_priors(cands)
    assert sources == ("name", "name", "price_unknown")
    assert LOW_Q < values[1] < values[0] < values[2] <= HIGH_Q
    easy, hard = difficulty_quality(0.1, values), difficulty_quality(0.9, values)
    assert easy[0] - easy[1] < hard[0] - hard[1]
