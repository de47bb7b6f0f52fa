"""A/B experiments: a weighted split between strategies, sticky by a hash, and shadow strategies.

- A request that names no strategy joins the first configured experiment whose
  ``model_groups`` contains its model group (empty list = every group).
- Its arm comes from a hash of the experiment name and the request's unit: ``user_id``, else
  ``session_id``, else ``request_id``. Every replica assigns the same unit to the same arm, with
  no shared state, and a changed weight only moves the units near the boundaries.
- A ``shadow_strategy`` is also computed on the same request and recorded (agreement with the
  served choice) but never served.
- Counts (decisions, feedback, summed reward, shadow agreement) go to the state store as
  counters of the group ``experiment name``; ``GetInfo`` shows them, refreshed from the store
  at most every ``REFRESH_S`` (eventually consistent across replicas).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

from routeiq_sidecar.config import ConfigError, Experiment
from routeiq_sidecar.state.store import Store
from routeiq_sidecar.types import RouteInput

REFRESH_S = 1.0


@dataclass(frozen=True)
class Assignment:
    experiment: str
    arm: str
    strategy: str
    shadow_strategy: str = ""


@dataclass(frozen=True)
class ArmReport:
    name: str
    strategy: str
    weight: float
    decisions: int
    feedback_count: int
    mean_feedback: float


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    arms: list[ArmReport]
    shadow_strategy: str
    shadow_decisions: int
    shadow_agreement: float  # share of shadow choices equal to the served one, 0 when none


def bucket(experiment: str, unit: str) -> float:
    """A stable number in [0, 1) for (experiment, unit); the same on every replica."""
    h = hashlib.blake2b(f"{experiment}\x1f{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(h) / 2**64


def assignment_unit(inp: RouteInput) -> str:
    return inp.user_id or inp.session_id or inp.request_id


def arm_field(arm: str, what: str) -> str:
    return f"arm:{arm}:{what}"


SHADOW_DECISIONS = "shadow:decisions"
SHADOW_AGREE = "shadow:agree"


class Experiments:
    def __init__(self, configs: Iterable[Experiment]) -> None:
        self.configs = list(configs)
        self._counts: dict[str, dict[str, float]] = {c.name: {} for c in self.configs}
        self._refreshed = 0.0
        self._refresh: asyncio.Task[None] | None = None

    def __bool__(self) -> bool:
        return bool(self.configs)

    def check(self, strategies: Iterable[str]) -> None:
        """Every arm and shadow names a strategy this bundle offers; else the start stops."""
        known = set(strategies)
        for e in self.configs:
            named = [(f"arm {a.name!r}", a.strategy) for a in e.arms]
            if e.shadow_strategy:
                named.append(("shadow_strategy", e.shadow_strategy))
            for where, strategy in named:
                if strategy not in known:
                    raise ConfigError(
                        f"invalid setting experiments: {where} of experiment {e.name!r} names "
                        f"unknown strategy {strategy!r} (available: {', '.join(sorted(known))})"
                    )

    def assign(self, inp: RouteInput) -> Assignment | None:
        for e in self.configs:
            if e.model_groups and inp.model_group not in e.model_groups:
                continue
            x = bucket(e.name, assignment_unit(inp)) * sum(a.weight for a in e.arms)
            arm = e.arms[-1]
            for a in e.arms:
                if x < a.weight:
                    arm = a
                    break
                x -= a.weight
            return Assignment(e.name, arm.name, arm.strategy, e.shadow_strategy)
        return None

    # --- counts
    def note(self, experiment: str, deltas: dict[str, float]) -> None:
        """Count locally at once; the next refresh replaces the numbers with the store's."""
        counts = self._counts.setdefault(experiment, {})
        for k, d in deltas.items():
            counts[k] = counts.get(k, 0.0) + d

    async def refresh(self, store: Store) -> None:
        for e in self.configs:
            got = await store.read_counters(e.name)
            if got.ok:
                self._counts[e.name] = got.value
        self._refreshed = time.monotonic()

    def _maybe_refresh(self, store: Store) -> None:
        if not self.configs or time.monotonic() - self._refreshed < REFRESH_S:
            return
        if self._refresh is not None and not self._refresh.done():
            return
        with contextlib.suppress(RuntimeError):  # no running loop: keep the local counts
            self._refresh = asyncio.get_running_loop().create_task(self.refresh(store))

    def report(self, store: Store) -> list[ExperimentReport]:
        self._maybe_refresh(store)
        out = []
        for e in self.configs:
            c = self._counts.get(e.name, {})
            arms = []
            for a in e.arms:
                n_fb = c.get(arm_field(a.name, "feedback"), 0.0)
                total = c.get(arm_field(a.name, "reward_sum"), 0.0)
                arms.append(
                    ArmReport(
                        name=a.name,
                        strategy=a.strategy,
                        weight=a.weight,
                        decisions=int(c.get(arm_field(a.name, "decisions"), 0.0)),
                        feedback_count=int(n_fb),
                        mean_feedback=round(total / n_fb, 6) if n_fb else 0.0,
                    )
                )
            shadow_n = c.get(SHADOW_DECISIONS, 0.0)
            out.append(
                ExperimentReport(
                    name=e.name,
                    arms=arms,
                    shadow_strategy=e.shadow_strategy,
                    shadow_decisions=int(shadow_n),
                    shadow_agreement=round(c.get(SHADOW_AGREE, 0.0) / shadow_n, 6)
                    if shadow_n
                    else 0.0,
                )
            )
        return out

    async def close(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh


def decision_counts(a: Assignment, shadow_selected: str, selected: str) -> dict[str, float]:
    deltas = {arm_field(a.arm, "decisions"): 1.0}
    if a.shadow_strategy and shadow_selected:
        deltas[SHADOW_DECISIONS] = 1.0
        deltas[SHADOW_AGREE] = 1.0 if shadow_selected == selected else 0.0
    return deltas


def feedback_counts(arm: str, reward: float) -> dict[str, float]:
    return {arm_field(arm, "feedback"): 1.0, arm_field(arm, "reward_sum"): reward}
