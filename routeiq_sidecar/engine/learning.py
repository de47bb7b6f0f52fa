"""Feedback that learns: observed outcomes blended into the strategies' predicted quality.

For each candidate with statistics in the request's category (state/stats.py):

    quality' = (1 - w) * quality + w * observed_mean,   w = min(feedback_weight, n / (n + k))

``n`` is the candidate's evidence (recent outcomes, fading with time), ``k`` is
``feedback_prior_strength``: after ``k`` outcomes the observation would weigh as much as the
prediction, but ``w`` never exceeds ``feedback_weight`` (0 turns learning off; the statistics
are still kept). This is the posterior mean of a Beta prior centred on the prediction with
strength ``k``, capped so one unlucky streak cannot overrule the heads entirely.

Baselines (``random``, ``cheapest``, ``strongest``, ``length``) are not blended: they stay the
reference an experiment compares against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from routeiq_sidecar.config import Settings
from routeiq_sidecar.state.stats import ModelStat, evidence

PURE_BASELINES = frozenset({"random", "cheapest", "strongest", "length"})
FEEDBACK_SOURCE = "+feedback"


@dataclass(frozen=True)
class LearningConfig:
    weight: float  # cap on w; 0 = off
    prior_strength: float  # k
    half_life_s: float

    @classmethod
    def from_settings(cls, s: Settings) -> LearningConfig:
        return cls(s.feedback_weight, s.feedback_prior_strength, s.stats_half_life_s)

    @property
    def on(self) -> bool:
        return self.weight > 0


def learns(strategy: str, cfg: LearningConfig) -> bool:
    return cfg.on and strategy not in PURE_BASELINES


def reward(outcome: Mapping[str, Any]) -> float:
    """One outcome as a number in 0..1: the quality score, else success as 1 or 0."""
    score = outcome.get("score")
    if score is not None:
        return float(score)
    return 1.0 if outcome.get("success") else 0.0


def weight(stat: ModelStat, now: float, cfg: LearningConfig) -> float:
    n = evidence(stat, now, cfg.half_life_s)
    return min(cfg.weight, n / (n + cfg.prior_strength))


@dataclass(frozen=True)
class Blended:
    quality: np.ndarray
    sources: tuple[str, ...]
    learned: bool  # at least one candidate's quality moved


def blend(
    quality: np.ndarray,
    sources: Sequence[str],
    models: Sequence[str],
    stats: Mapping[str, ModelStat],
    *,
    now: float,
    cfg: LearningConfig,
) -> Blended:
    q = np.asarray(quality, dtype=np.float64).copy()
    out = list(sources)
    learned = False
    for i, model in enumerate(models):
        stat = stats.get(model)
        if stat is None:
            continue
        w = weight(stat, now, cfg)
        if w <= 0:
            continue
        q[i] = (1.0 - w) * q[i] + w * min(1.0, max(0.0, stat.mean))
        out[i] = f"{out[i]}{FEEDBACK_SOURCE}"
        learned = True
    return Blended(q, tuple(out), learned)
