"""Capability priors for candidates no trained head knows: ``quality_prior``, else price (the
sent one; without one, what the model's name says, model_names.py; else the unknown price).

The price prior maps the blended price per million tokens on a log scale from $0.05 (0.50)
to $30 (0.95): across today's catalogues, price is the best public proxy for capability.
Free candidates (price 0) get 0.50 unless the caller sends ``quality_prior``.
"""

from __future__ import annotations

import math

import numpy as np

from routeiq_sidecar.types import CandidateSpec

LOW_PRICE, HIGH_PRICE = 0.05, 30.0
LOW_Q, HIGH_Q = 0.50, 0.95


def price_prior(blended_cost_per_mtok: float) -> float:
    if blended_cost_per_mtok <= 0:
        return LOW_Q
    x = (math.log10(blended_cost_per_mtok) - math.log10(LOW_PRICE)) / (
        math.log10(HIGH_PRICE) - math.log10(LOW_PRICE)
    )
    return LOW_Q + (HIGH_Q - LOW_Q) * min(1.0, max(0.0, x))


def capability_priors(candidates: tuple[CandidateSpec, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    values, sources = [], []
    for c in candidates:
        if c.quality_prior is not None:
            values.append(float(c.quality_prior))
            sources.append("prior")
        else:
            values.append(price_prior(c.effective_price_per_mtok))
            sources.append("price" if c.price_known
                           else "name" if c.name_priced else "price_unknown")
    return np.asarray(values, dtype=np.float64), tuple(sources)


def difficulty_quality(difficulty: float, priors: np.ndarray) -> np.ndarray:
    """Quality of each candidate on a prompt of ``difficulty`` (0..1).

    Easy prompts: every candidate does well (quality near 1), so cost decides. Hard prompts:
    quality falls to the candidate's capability prior, so strong candidates pull ahead.
    """
    d = min(1.0, max(0.0, difficulty))
    return np.asarray(1.0 - d * (1.0 - priors), dtype=np.float64)
