"""The state interface the engine talks to; memory (default) and Redis implement it.

No method raises for a store failure: a store that cannot answer (Redis down, slow, or
reconnecting) returns ``ok=False`` / ``available=False`` / ``False``, and the engine routes on
without shared state. The engine and the strategies never learn which store they have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from routeiq_sidecar.state.stats import ModelStat, StatsPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class StateLimits:
    """TTLs and bounds shared by both stores (from the settings)."""

    decision_ttl_s: float
    decision_log_size: int
    sticky_ttl_s: float
    session_cache_size: int
    stats: StatsPolicy
    stats_max_entries: int = 50_000  # memory store: (category, model) pairs kept
    memory_max_bytes: int = 256 * 2**20  # memory store: about this many bytes in all maps


@dataclass(frozen=True)
class Lookup(Generic[T]):
    """A read: ``ok`` is False when the store could not answer (``value`` is then empty)."""

    ok: bool
    value: T


@dataclass(frozen=True)
class FeedbackResult:
    found: bool
    duplicate: bool
    available: bool = True  # False: the store could not answer, nothing was recorded
    record: dict[str, Any] | None = None  # the decision record, for learning
    retry_after_s: int = 1  # when unavailable: a hint for the caller (Retry-After)


class Store(Protocol):
    kind: str  # "memory" or "redis", for logs and GetInfo

    async def get_sticky(self, key: str) -> Lookup[str | None]:
        """The deployment id a session was routed to, None when there is none (or expired)."""
        ...

    async def set_sticky(self, key: str, candidate_id: str) -> bool:
        """Remember (and refresh the TTL of) a session's deployment."""
        ...

    async def record_decision(self, decision_id: str, record: dict[str, Any]) -> bool: ...

    async def record_feedback(self, decision_id: str, outcome: dict[str, Any]) -> FeedbackResult:
        """Idempotent per id: the first call wins, later ones report ``duplicate``."""
        ...

    async def read_stats(
        self, category: str, models: Sequence[str]
    ) -> Lookup[dict[str, ModelStat]]:
        """Statistics of those models in that category (models without any are left out)."""
        ...

    async def update_stats(
        self,
        category: str,
        model: str,
        reward: float,
        *,
        now: float,
        latency_ms: float = 0.0,
        cost_usd: float = 0.0,
    ) -> bool:
        """One more outcome, applied atomically (see state/stats.py)."""
        ...

    async def incr_counters(self, group: str, deltas: Mapping[str, float]) -> bool:
        """Add to named counters of a group (experiment counts), atomically per call."""
        ...

    async def read_counters(self, group: str) -> Lookup[dict[str, float]]: ...

    async def close(self) -> None: ...
