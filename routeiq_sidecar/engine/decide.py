"""The decision rule: hard constraints, then ``utility = quality - lambda * cost_term(price)``.

- Constraints first: required capabilities, context length (estimated prompt tokens <=
  ``max_input_tokens`` when set), ``max_cost_per_mtok`` (on the blended price), profile
  ``free`` (zero-price candidates only; a candidate whose price is unknown is not free).
- ``cost_term`` is on an absolute scale: ``log(1 + price / $1) / log(1 + $30 / $1)`` of the
  candidate's own blended price per million tokens ($0 -> 0, $0.26 -> 0.07, $3 -> 0.40,
  $30 -> 1). It depends on nothing else on the list, so adding a candidate that is not
  selected never changes the choice among the others, and a higher lambda (``eco``) never
  picks a more expensive candidate than a lower one (``auto``) for the same prompt and list.
- A candidate sent with neither price is "price unknown": it is priced at
  ``types.UNKNOWN_PRICE_PER_MTOK`` (an expensive model's price, so an unpriced model is never
  preferred for being "free"), and the engine warns and counts it.
- lambda comes from the profile unless the request sets ``quality_cost_tradeoff``.
- Profile ``reasoning`` adds ``REASONING_BONUS`` to candidates with the ``reasoning``
  capability when the prompt is complex.
- Ties (within 1e-9) go to the cheaper candidate, then to the caller's order.
- No eligible candidate raises NO_ELIGIBLE_CANDIDATE: never a silent pick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routeiq_sidecar.errors import ErrorKind, RouteIQError, invalid
from routeiq_sidecar.limits import clip, shown
from routeiq_sidecar.strategies.base import unit
from routeiq_sidecar.types import CandidateSpec, Score, Signals

FALLBACK_STRATEGY = "length"  # answers when the encoder cannot (deadline, model error)
PROFILE_LAMBDA = {"premium": 0.02, "auto": 0.15, "reasoning": 0.1, "eco": 0.5, "free": 0.0}
REASONING_BONUS = 0.1
TIE_EPS = 1e-9
SHOWN_REASONS = 8  # candidates named in a no-eligible-candidate error
REF_PRICE_PER_MTOK = 1.0
TOP_PRICE_PER_MTOK = 30.0
_TOP_LOG = math.log1p(TOP_PRICE_PER_MTOK / REF_PRICE_PER_MTOK)


def cost_term(price_per_mtok: float) -> float:
    """Absolute cost scale: 0 for free, 1 at $30 per million tokens, log-shaped between."""
    return math.log1p(max(0.0, price_per_mtok) / REF_PRICE_PER_MTOK) / _TOP_LOG


@dataclass(frozen=True)
class Constraints:
    required_capabilities: tuple[str, ...]
    max_cost_per_mtok: float | None
    estimated_prompt_tokens: int
    profile: str


def resolve_lambda(profile: str, tradeoff: float | None) -> float:
    return float(tradeoff) if tradeoff is not None else PROFILE_LAMBDA[profile]


def ineligibility(c: CandidateSpec, k: Constraints) -> str:
    missing = [cap for cap in k.required_capabilities if cap not in c.capabilities]
    if missing:
        return f"lacks capability {', '.join(missing)}"
    if c.max_input_tokens and k.estimated_prompt_tokens > c.max_input_tokens:
        return (
            f"prompt of ~{k.estimated_prompt_tokens} tokens exceeds its "
            f"max_input_tokens {c.max_input_tokens}"
        )
    if k.max_cost_per_mtok is not None and not c.price_known:
        return f"price unknown, so max_cost_per_mtok {k.max_cost_per_mtok:g} cannot be checked"
    if k.max_cost_per_mtok is not None and c.blended_cost_per_mtok > k.max_cost_per_mtok:
        return (
            f"blended price {c.blended_cost_per_mtok:g}/Mtok exceeds max_cost_per_mtok "
            f"{k.max_cost_per_mtok:g}"
        )
    if k.profile == "free" and not c.is_free:
        return "profile free admits only zero-price candidates"
    return ""


def estimated_cost_usd(c: CandidateSpec, prompt_tokens: int, output_tokens: int) -> float:
    """$ for one call; -1 when the price is unknown."""
    if not c.price_known:
        return -1.0
    return (prompt_tokens * c.input_cost_per_mtok + output_tokens * c.output_cost_per_mtok) / 1e6


def rank(
    candidates: tuple[CandidateSpec, ...],
    quality: np.ndarray,
    sources: tuple[str, ...],
    *,
    constraints: Constraints,
    lam: float,
    signals: Signals,
    output_tokens: int,
) -> list[Score]:
    """Every candidate scored, best first; ineligible ones last with their reason."""
    reasons = [ineligibility(c, constraints) for c in candidates]
    eligible = [i for i, r in enumerate(reasons) if not r]
    if not eligible:
        detail = "; ".join(
            f"{clip(c.id)}: {r}" for c, r in zip(candidates[:SHOWN_REASONS], reasons, strict=False)
        )
        if len(candidates) > SHOWN_REASONS:
            detail += f"; and {len(candidates) - SHOWN_REASONS} more"
        raise RouteIQError(
            ErrorKind.NO_ELIGIBLE_CANDIDATE,
            f"candidates: no eligible candidate ({detail})",
            field="candidates",
        )
    # Python floats, not numpy: a list is a few candidates, where numpy's per-call cost is
    # most of the work (the same IEEE float64 arithmetic, so the same values)
    prices = [float(c.effective_price_per_mtok) for c in candidates]
    qs = [unit(v) for v in np.asarray(quality, dtype=np.float64).tolist()]
    if constraints.profile == "reasoning" and signals.complexity == "complex":
        qs = [
            unit(v + REASONING_BONUS) if "reasoning" in c.capabilities else v
            for v, c in zip(qs, candidates, strict=True)
        ]
    us = [v - lam * cost_term(p) for v, p in zip(qs, prices, strict=True)]
    for i, u in enumerate(us):  # derived values, not only inputs
        if not math.isfinite(u):
            raise invalid(
                f"candidates[{i}]",
                f"prices and quality_cost_tradeoff give {shown(candidates[i].id)} a non-finite "
                "utility",
            )
    scores = [
        Score(
            candidate_id=c.id,
            model=c.model,
            predicted_quality=round(qs[i], 6),
            estimated_cost=round(
                estimated_cost_usd(c, signals.estimated_prompt_tokens, output_tokens), 10
            ),
            utility=round(us[i], 6),
            eligible=not reasons[i],
            ineligible_reason=reasons[i],
            quality_source=sources[i],
        )
        for i, c in enumerate(candidates)
    ]
    order = sorted(
        range(len(candidates)),
        key=lambda i: (
            0 if not reasons[i] else 1,
            -round(us[i] / TIE_EPS) * TIE_EPS,
            prices[i],
            i,
        ),
    )
    return [scores[i] for i in order]


def explain(
    selected: CandidateSpec,
    ranking: list[Score],
    strategy: str,
    profile: str,
    lam: float,
    note: str,
    cause: str,
    notes: list[str] | None = None,
) -> str:
    """The decision's ``reason``: the winner's utility, what was ineligible, what degraded."""
    top = ranking[0]
    out = sum(1 for r in ranking if not r.eligible)
    parts = [
        f"{selected.id} ({selected.model}) has the best utility {top.utility:.3f} "
        f"(quality {top.predicted_quality:.2f}, lambda {lam:g}) for {note or 'this prompt'}"
        f" under strategy {strategy}, profile {profile}"
    ]
    if out:
        parts.append(f"{out} of {len(ranking)} candidates ineligible")
    parts.extend(notes or ())
    if cause:
        parts.insert(0, f"degraded: {cause}, fallback rule {FALLBACK_STRATEGY}")
    return "; ".join(parts) + "."
