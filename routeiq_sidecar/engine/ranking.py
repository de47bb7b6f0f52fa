"""A strategy's qualities, blended with feedback statistics, through the decision rule.

Prediction (an onnxruntime call, a scan over thousands of rows) runs in a worker thread: on the
event loop every concurrent request would wait behind it; strategies whose ``predict`` is a few
numbers with no scan (``runs_inline``: the baselines, `centroid`) run on the loop, where the
thread hop would cost more than the prediction; strategies with ``predict_many`` predict
concurrent requests together, and a lone cheap one on the loop when no other request waits
(engine/coalesce.py, ``predict_on_loop_max_us``). The shadow strategy of an
experiment is asked the same question and never fails the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine import learning
from routeiq_sidecar.engine.coalesce import Coalescer
from routeiq_sidecar.engine.decide import Constraints, rank, resolve_lambda
from routeiq_sidecar.engine.experiments import Assignment
from routeiq_sidecar.engine.state_io import StateView
from routeiq_sidecar.strategies.base import (
    QualityEstimate,
    Strategy,
    StrategyInput,
    runs_inline,
)
from routeiq_sidecar.types import Score

log = logging.getLogger("routeiq.engine")


@dataclass(frozen=True)
class Question:
    """What every strategy is asked about one request."""

    sinp: StrategyInput
    state: StateView
    profile: str
    constraints: Constraints
    tradeoff: float | None  # the request's quality_cost_tradeoff


@dataclass(frozen=True)
class Ranked:
    ranking: list[Score]
    lam: float
    note: str
    learned: bool


class Ranker:
    def __init__(self, settings: Settings, learning_cfg: learning.LearningConfig,
                 on_predict_batch: Callable[[int], None] | None = None,
                 busy: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self._busy = busy  # decisions under way in this worker (the coalescers' gather)
        self.learning = learning_cfg
        self._on_predict_batch = on_predict_batch  # size of each shared prediction call
        # strategies with predict_many: concurrent predictions share one call; by strategy
        # object, so a reload's new strategies get their own (and the old ones go with them)
        self._coalescers: weakref.WeakKeyDictionary[Strategy, Coalescer[StrategyInput, Any]] = (
            weakref.WeakKeyDictionary())

    async def _predict(self, strategy: Strategy, sinp: StrategyInput) -> QualityEstimate:
        if runs_inline(strategy):
            return strategy.predict(sinp)
        many = getattr(strategy, "predict_many", None)
        if many is None:
            return await asyncio.to_thread(strategy.predict, sinp)
        co = self._coalescers.get(strategy)
        if co is None:
            co = self._coalescers[strategy] = Coalescer(
                many, self.settings.max_batch_size, self._on_predict_batch,
                inline_max_s=self.settings.predict_on_loop_max_us / 1e6,
                gather_s=self.settings.predict_gather_us / 1e6, busy=self._busy)
        est: QualityEstimate = await co(sinp)
        return est

    async def rank(self, strategies: Mapping[str, Strategy], name: str, q: Question) -> Ranked:
        sinp = q.sinp
        strategy = strategies[name]
        est = await self._predict(strategy, sinp)
        quality, sources, learned = est.quality, est.sources, False
        if q.state.stats and learning.learns(name, self.learning):
            b = learning.blend(
                quality,
                sources,
                [c.model for c in sinp.candidates],
                q.state.stats,
                now=time.time(),
                cfg=self.learning,
            )
            quality, sources, learned = b.quality, b.sources, b.learned
        lam = resolve_lambda(q.profile, q.tradeoff) if est.cost_aware else 0.0
        ranking = rank(
            sinp.candidates,
            quality,
            sources,
            constraints=q.constraints,
            lam=lam,
            signals=sinp.signals,
            output_tokens=self.settings.assumed_output_tokens,
        )
        return Ranked(ranking, lam, est.note, learned)

    async def shadow(
        self,
        strategies: Mapping[str, Strategy],
        assigned: Assignment | None,
        q: Question,
        degraded: bool,
    ) -> tuple[str, str]:
        """(shadow strategy, the candidate it would have served); never fails the request."""
        if assigned is None or not assigned.shadow_strategy or degraded:
            return "", ""
        name = assigned.shadow_strategy
        if name not in strategies:
            return "", ""
        try:
            ranked = await self.rank(strategies, name, q)
        except Exception as exc:  # the shadow is advisory: the served answer stands
            log.warning("shadow strategy %s failed: %s", name, exc)
            return name, ""
        return name, ranked.ranking[0].candidate_id
