"""Baselines for comparison: random, cheapest, strongest, length (RouteLLM's usual controls)."""

from __future__ import annotations

import math

import numpy as np

from routeiq_sidecar.strategies.base import QualityEstimate, StrategyInput
from routeiq_sidecar.strategies.priors import difficulty_quality

LENGTH_PIVOT_TOKENS = 2048  # a prompt this long counts as maximally hard


class RandomStrategy:
    name = "random"
    uses_embedding = False
    runs_inline = True

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        rng = np.random.default_rng(inp.seed)
        q = rng.random(len(inp.candidates))
        return QualityEstimate(q, ("random",) * len(q), cost_aware=False, note="a random pick")


class CheapestStrategy:
    name = "cheapest"
    uses_embedding = False
    runs_inline = True

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        cost = np.asarray([c.effective_price_per_mtok for c in inp.candidates], dtype=np.float64)
        top = cost.max() if cost.size and cost.max() > 0 else 1.0
        q = 1.0 - cost / top
        return QualityEstimate(q, ("price",) * len(q), cost_aware=False, note="the cheapest pick")


class StrongestStrategy:
    name = "strongest"
    uses_embedding = False
    runs_inline = True

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        return QualityEstimate(
            inp.priors.copy(), inp.prior_sources, cost_aware=False, note="the strongest pick"
        )


class LengthStrategy:
    name = "length"
    uses_embedding = False
    runs_inline = True

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        tokens = max(1, inp.text.estimated_prompt_tokens)
        d = min(1.0, math.log(tokens) / math.log(LENGTH_PIVOT_TOKENS))
        return QualityEstimate(
            difficulty_quality(d, inp.priors),
            inp.prior_sources,
            note=f"prompt length {tokens} tokens (difficulty {d:.2f})",
        )
