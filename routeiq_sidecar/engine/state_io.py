"""The shared state around a decision: read before it (the session's deployment, feedback
statistics), written after it (decision log, session deployment, experiment counts), and the
feedback that comes back later. A store that cannot answer never fails the request."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine import learning, sticky
from routeiq_sidecar.engine.experiments import (
    Assignment,
    Experiments,
    decision_counts,
    feedback_counts,
)
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.state.stats import ModelStat
from routeiq_sidecar.state.store import Lookup, Store
from routeiq_sidecar.telemetry.metrics import Metrics
from routeiq_sidecar.types import CandidateSpec, Decision, RouteInput

log = logging.getLogger("routeiq.engine")


@dataclass(frozen=True)
class StateView:
    """What the state store said for one request (``ok`` False: it could not answer)."""

    ok: bool = True
    session_key: str | None = None
    previous: str | None = None  # the session's deployment
    stats: dict[str, ModelStat] = field(default_factory=dict)


class StateIO:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        learning_cfg: learning.LearningConfig,
        experiments: Experiments,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.settings = settings
        self.learning = learning_cfg
        self.experiments = experiments
        self.metrics = metrics

    async def read(
        self, inp: RouteInput, category: str, candidates: tuple[CandidateSpec, ...]
    ) -> StateView:
        key = sticky.session_key(inp) if self.settings.sticky_ttl_s > 0 else None
        want_stats = self.learning.on
        if key is None and not want_stats:
            return StateView()
        models = sorted({c.model for c in candidates})
        if key is None:  # one read: awaited here, no task to schedule (as below)
            got_sticky, got_stats = _NOTHING, await self.store.read_stats(category, models)
        elif not want_stats:
            got_sticky, got_stats = await self.store.get_sticky(key), Lookup(True, {})
        else:
            got_sticky, got_stats = await asyncio.gather(
                self.store.get_sticky(key), self.store.read_stats(category, models)
            )
        return StateView(
            ok=got_sticky.ok and got_stats.ok,
            session_key=key,
            previous=got_sticky.value if got_sticky.ok else None,
            stats=got_stats.value if got_stats.ok else {},
        )

    async def remember(
        self,
        d: Decision,
        inp: RouteInput,
        state: StateView,
        assigned: Assignment | None,
        learned: bool,
    ) -> bool:
        """Decision log, the session's deployment and experiment counts; False: not all stored."""
        writes = [self.store.record_decision(d.decision_id, decision_record(d, inp, learned))]
        if state.session_key is not None and state.ok:
            writes.append(self.store.set_sticky(state.session_key, d.selected.id))
        if assigned is not None:
            deltas = decision_counts(assigned, d.shadow_selected_id, d.selected.id)
            self.experiments.note(assigned.experiment, deltas)
            writes.append(self.store.incr_counters(assigned.experiment, deltas))
        ok = await writes[0] if len(writes) == 1 else all(await asyncio.gather(*writes))
        if not ok and state.ok:
            d.reason = d.reason.removesuffix(".") + "; shared state unavailable: not recorded."
        return ok

    async def feedback(self, decision_id: str, outcome: dict[str, Any]) -> bool:
        """Record feedback on a (checked) outcome; True when the decision already had some."""
        res = await self.store.record_feedback(decision_id, outcome)
        if not res.available:
            self.metrics.feedback.labels("unavailable").inc()
            raise RouteIQError(
                ErrorKind.UNAVAILABLE,
                f"decision_id: the shared state store is unavailable, feedback for "
                f"{decision_id!r} was not recorded; retry later",
                field="decision_id",
                retry_after_s=res.retry_after_s,
            )
        if not res.found:
            self.metrics.feedback.labels("unknown").inc()
            raise RouteIQError(
                ErrorKind.NOT_FOUND,
                f"decision_id: unknown or expired decision {decision_id!r} "
                f"(decisions are kept {self.settings.decision_ttl_s} s)",
                field="decision_id",
            )
        self.metrics.feedback.labels("duplicate" if res.duplicate else "accepted").inc()
        if not res.duplicate and res.record is not None:
            await self._learn(res.record, outcome)
        return res.duplicate

    async def _learn(self, record: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Per-model statistics and experiment counts; a store failure here only loses them."""
        r = learning.reward(outcome)
        writes = [
            self.store.update_stats(
                str(record.get("category", "")),
                str(record.get("selected_model", "")),
                r,
                now=time.time(),
                latency_ms=float(outcome.get("latency_ms") or 0.0),
                cost_usd=float(outcome.get("cost_usd") or 0.0),
            )
        ]
        experiment, arm = str(record.get("experiment") or ""), str(record.get("arm") or "")
        if experiment and arm:
            deltas = feedback_counts(arm, r)
            self.experiments.note(experiment, deltas)
            writes.append(self.store.incr_counters(experiment, deltas))
            self.metrics.experiment_feedback.labels(experiment, arm).inc()
        if not all(await asyncio.gather(*writes)):
            log.warning("feedback accepted but not learned: the shared state store is unavailable")


def decision_record(d: Decision, inp: RouteInput, learned: bool) -> dict[str, Any]:
    """What the decision log keeps: enough to learn from feedback and to audit the choice."""
    return {
        "selected_id": d.selected.id,
        "selected_model": d.selected.model,
        "predicted_quality": d.ranking[0].predicted_quality,
        "strategy": d.strategy,
        "profile": d.profile,
        "category": d.signals.category,
        "complexity": d.signals.complexity,
        "session_id": inp.session_id,
        "user_id": inp.user_id,
        "sticky": d.sticky,
        "learned": learned,
        "experiment": d.experiment,
        "arm": d.arm,
        "shadow_strategy": d.shadow_strategy,
        "shadow_selected_id": d.shadow_selected_id,
        "created": time.time(),
    }


_NOTHING: Lookup[str | None] = Lookup(True, None)
