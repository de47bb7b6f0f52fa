"""The decision rule: constraints with reasons, lambda, tie-breaking, reasoning bonus, ranking."""

from __future__ import annotations

import numpy as np
import pytest

from routeiq_sidecar.engine.decide import (
    PROFILE_LAMBDA,
    REASONING_BONUS,
    Constraints,
    cost_term,
    estimated_cost_usd,
    ineligibility,
    rank,
    resolve_lambda,
)
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.types import (
    PROFILES,
    UNKNOWN_PRICE_PER_MTOK,
    CandidateSpec,
    Score,
    Signals,
)

CHEAP = CandidateSpec("cheap", "openai/gpt-4o-mini", 0.15, 0.6, max_input_tokens=128_000)
MID = CandidateSpec("mid", "openai/gpt-4o", 2.5, 10.0, capabilities=("tools", "vision"))
STRONG = CandidateSpec(
    "strong",
    "anthropic/claude-opus-4",
    15.0,
    75.0,
    max_input_tokens=200_000,
    capabilities=("tools", "reasoning"),
)
FREE = CandidateSpec("free", "local/llama", 0.0, 0.0, max_input_tokens=8_000)


def signals(complexity: str = "medium", tokens: int = 100) -> Signals:
    return Signals(
        "code", complexity, 0.9, {"simple": 0.1, "medium": 0.5, "complex": 0.9}[complexity], tokens
    )


def constraints(
    caps: tuple[str, ...] = (),
    max_cost: float | None = None,
    tokens: int = 100,
    profile: str = "auto",
) -> Constraints:
    return Constraints(caps, max_cost, tokens, profile)


def run(
    cands: tuple[CandidateSpec, ...],
    quality: list[float],
    *,
    lam: float = 0.15,
    k: Constraints | None = None,
    sig: Signals | None = None,
) -> list[Score]:
    k = k or constraints()
    return rank(
        cands,
        np.asarray(quality),
        ("head",) * len(cands),
        constraints=k,
        lam=lam,
        signals=sig or signals(tokens=k.estimated_prompt_tokens),
        output_tokens=300,
    )


# --- constraints
def test_capability_constraint() -> None:
    k = constraints(caps=("tools", "reasoning"))
    assert ineligibility(CHEAP, k) == "lacks capability tools, reasoning"
    assert ineligibility(MID, k) == "lacks capability reasoning"
    assert ineligibility(STRONG, k) == ""


def test_context_length_constraint() -> None:
    k = constraints(tokens=10_000)
    assert ineligibility(FREE, k) == "prompt of ~10000 tokens exceeds its max_input_tokens 8000"
    assert ineligibility(CHEAP, k) == ""
    assert ineligibility(MID, k) == ""  # max_input_tokens 0 = unknown, no limit
    assert ineligibility(FREE, constraints(tokens=8_000)) == ""  # the limit itself fits


def test_max_cost_constraint() -> None:
    k = constraints(max_cost=5.0)
    assert MID.blended_cost_per_mtok == pytest.approx(4.375)
    assert ineligibility(MID, k) == ""
    assert ineligibility(STRONG, k) == "blended price 30/Mtok exceeds max_cost_per_mtok 5"
    assert ineligibility(FREE, constraints(max_cost=0.0)) == ""
    assert "exceeds max_cost_per_mtok 0" in ineligibility(CHEAP, constraints(max_cost=0.0))


def test_free_profile_constraint() -> None:
    k = constraints(profile="free")
    assert ineligibility(FREE, k) == ""
    assert ineligibility(CHEAP, k) == "profile free admits only zero-price candidates"
    assert ineligibility(CHEAP, constraints(profile="eco")) == ""


def test_first_failing_constraint_is_reported() -> None:
    k = constraints(caps=("vision",), max_cost=0.1, tokens=1_000_000, profile="free")
    assert ineligibility(CHEAP, k).startswith("lacks capability vision")


# --- lambda
@pytest.mark.parametrize("profile", PROFILES)
def test_lambda_per_profile(profile: str) -> None:
    assert resolve_lambda(profile, None) == PROFILE_LAMBDA[profile]


def test_lambda_ordering_and_override() -> None:
    assert PROFILE_LAMBDA["premium"] < PROFILE_LAMBDA["auto"] < PROFILE_LAMBDA["eco"]
    assert PROFILE_LAMBDA["free"] == 0.0
    assert resolve_lambda("eco", 0.0) == 0.0
    assert resolve_lambda("premium", 2.0) == 2.0
    with pytest.raises(KeyError):
        resolve_lambda("nonsense", None)


def test_lambda_changes_the_pick() -> None:
    cands = (CHEAP, STRONG)
    quality = [0.7, 0.9]
    assert run(cands, quality, lam=PROFILE_LAMBDA["premium"])[0].candidate_id == "strong"
    assert run(cands, quality, lam=PROFILE_LAMBDA["eco"])[0].candidate_id == "cheap"


def test_utility_is_quality_minus_lambda_absolute_cost() -> None:
    scores = {s.candidate_id: s for s in run((CHEAP, STRONG), [0.7, 0.9], lam=0.5)}
    assert scores["strong"].utility == pytest.approx(0.9 - 0.5 * cost_term(30.0), abs=1e-6)
    assert cost_term(30.0) == pytest.approx(1.0)
    assert scores["cheap"].utility == pytest.approx(0.7 - 0.5 * cost_term(0.2625), abs=1e-6)


def test_cost_term_is_absolute_and_monotone() -> None:
    assert cost_term(0.0) == 0.0
    prices = [0.01, 0.1, 0.2625, 1.0, 3.0, 30.0, 300.0]
    terms = [cost_term(p) for p in prices]
    assert terms == sorted(terms) and len(set(terms)) == len(terms)


def test_cost_does_not_depend_on_the_other_candidates() -> None:
    k = constraints(max_cost=5.0)  # STRONG is ineligible: MID's cost term is unchanged
    alone = {s.candidate_id: s for s in run((CHEAP, MID), [0.5, 0.5], lam=1.0)}
    scores = {s.candidate_id: s for s in run((CHEAP, MID, STRONG), [0.5, 0.5, 0.5], lam=1.0, k=k)}
    assert scores["mid"].utility == alone["mid"].utility
    assert scores["mid"].utility == pytest.approx(0.5 - cost_term(4.375), abs=1e-6)


def test_price_unknown_is_not_free() -> None:
    unpriced = CandidateSpec("unpriced", "acme/mystery", price_known=False)
    assert not unpriced.is_free
    assert unpriced.effective_price_per_mtok == UNKNOWN_PRICE_PER_MTOK
    ranked = run((unpriced, CHEAP), [0.8, 0.8], lam=0.15)
    assert ranked[0].candidate_id == "cheap"  # equal quality: the known cheap price wins
    by_id = {s.candidate_id: s for s in ranked}
    assert by_id["unpriced"].estimated_cost == -1.0
    assert ineligibility(unpriced, constraints(profile="free")).startswith("profile free")
    assert "price unknown" in ineligibility(unpriced, constraints(max_cost=100.0))


def test_all_free_candidates_no_division_by_zero() -> None:
    free2 = CandidateSpec("free2", "local/qwen")
    ranking = run((FREE, free2), [0.4, 0.6], lam=0.5)
    assert ranking[0].candidate_id == "free2"
    assert [s.utility for s in ranking] == [0.6, 0.4]


def test_quality_clipped_to_unit_interval() -> None:
    scores = {s.candidate_id: s for s in run((CHEAP, MID), [1.7, -0.3], lam=0.0)}
    assert scores["cheap"].predicted_quality == 1.0
    assert scores["mid"].predicted_quality == 0.0


# --- ties
def test_tie_goes_to_cheaper_candidate() -> None:
    ranking = run((STRONG, MID, CHEAP), [0.8, 0.8, 0.8], lam=0.0)
    assert [s.candidate_id for s in ranking] == ["cheap", "mid", "strong"]


def test_near_tie_within_epsilon_goes_to_cheaper() -> None:
    ranking = run((STRONG, CHEAP), [0.8 + 1e-12, 0.8], lam=0.0)
    assert ranking[0].candidate_id == "cheap"


def test_equal_price_tie_keeps_callers_order() -> None:
    a = CandidateSpec("a", "m", 1.0, 1.0)
    b = CandidateSpec("b", "m", 1.0, 1.0)
    assert [s.candidate_id for s in run((b, a), [0.5, 0.5])] == ["b", "a"]
    assert [s.candidate_id for s in run((a, b), [0.5, 0.5])] == ["a", "b"]


def test_real_difference_beats_price() -> None:
    ranking = run((STRONG, CHEAP), [0.8 + 1e-6, 0.8], lam=0.0)
    assert ranking[0].candidate_id == "strong"


# --- reasoning profile
def test_reasoning_bonus_only_for_complex_prompts() -> None:
    cands = (MID, STRONG)  # STRONG has the reasoning capability
    k = constraints(profile="reasoning")
    complex_ = {
        s.candidate_id: s for s in run(cands, [0.8, 0.8], lam=0.0, k=k, sig=signals("complex"))
    }
    assert complex_["strong"].predicted_quality == pytest.approx(0.8 + REASONING_BONUS)
    assert complex_["mid"].predicted_quality == pytest.approx(0.8)
    for tier in ("simple", "medium"):
        plain = {s.candidate_id: s for s in run(cands, [0.8, 0.8], lam=0.0, k=k, sig=signals(tier))}
        assert plain["strong"].predicted_quality == pytest.approx(0.8)


def test_reasoning_bonus_only_for_reasoning_profile() -> None:
    scores = {
        s.candidate_id: s
        for s in run(
            (MID, STRONG),
            [0.8, 0.8],
            lam=0.0,
            k=constraints(profile="auto"),
            sig=signals("complex"),
        )
    }
    assert scores["strong"].predicted_quality == pytest.approx(0.8)


def test_reasoning_bonus_capped_at_one() -> None:
    scores = run(
        (STRONG,), [0.97], lam=0.0, k=constraints(profile="reasoning"), sig=signals("complex")
    )
    assert scores[0].predicted_quality == 1.0


# --- no eligible candidate
def test_no_eligible_candidate_raises_with_reasons() -> None:
    k = constraints(caps=("vision",), max_cost=1.0)
    with pytest.raises(RouteIQError) as err:
        run((CHEAP, MID, STRONG), [0.5, 0.5, 0.5], k=k)
    e = err.value
    assert e.kind is ErrorKind.NO_ELIGIBLE_CANDIDATE
    assert e.field == "candidates"
    msg = str(e)
    assert msg.startswith("candidates: no eligible candidate")
    assert "cheap: lacks capability vision" in msg
    assert "mid: blended price 4.375/Mtok exceeds max_cost_per_mtok 1" in msg
    assert "strong: lacks capability vision" in msg


def test_free_profile_without_free_candidate_raises() -> None:
    with pytest.raises(RouteIQError, match="profile free admits only zero-price") as err:
        run((CHEAP, MID), [0.5, 0.5], k=constraints(profile="free"))
    assert err.value.kind is ErrorKind.NO_ELIGIBLE_CANDIDATE


# --- ranking
def test_ranking_has_every_candidate_eligible_first() -> None:
    k = constraints(caps=("tools",))
    ranking = run((CHEAP, FREE, MID, STRONG), [0.99, 0.99, 0.3, 0.6], lam=0.1, k=k)
    assert sorted(s.candidate_id for s in ranking) == ["cheap", "free", "mid", "strong"]
    assert [s.eligible for s in ranking] == [True, True, False, False]
    assert [s.candidate_id for s in ranking[:2]] == ["strong", "mid"]
    for s in ranking:
        assert (s.ineligible_reason == "") == s.eligible
        assert s.quality_source == "head"
    # ineligible ones keep their scores, even when higher than the eligible ones'
    assert ranking[2].predicted_quality == 0.99


def test_estimated_cost() -> None:
    assert estimated_cost_usd(STRONG, 1000, 300) == pytest.approx((1000 * 15 + 300 * 75) / 1e6)
    ranking = run((STRONG,), [0.5], k=constraints(tokens=1000))
    assert ranking[0].estimated_cost == pytest.approx(estimated_cost_usd(STRONG, 1000, 300))
    assert ranking[0].model == STRONG.model
