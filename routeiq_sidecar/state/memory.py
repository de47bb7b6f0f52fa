"""In-process state (the default): every map bounded by a TTL and a size, oldest out first.

Nothing is shared between processes or replicas; a restart forgets everything. Stickiness,
feedback learning and experiment counts still work within one process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from routeiq_sidecar.state.stats import ModelStat, updated
from routeiq_sidecar.state.store import FeedbackResult, Lookup, StateLimits

V = TypeVar("V")


def approx_bytes(key: str, value: object) -> int:
    """A cheap size estimate of an entry: its strings' lengths plus a fixed overhead per field
    (what bounds memory when callers choose the strings)."""
    size = ENTRY_OVERHEAD + len(key)
    if isinstance(value, str):
        return size + len(value)
    if isinstance(value, dict):
        return size + sum(
            FIELD_OVERHEAD + len(k) + (len(v) if isinstance(v, str) else 8)
            for k, v in value.items()
        )
    return size + FIELD_OVERHEAD * 8


ENTRY_OVERHEAD = 200  # an OrderedDict slot, the tuple and the objects around a value
FIELD_OVERHEAD = 60


class TTLMap(Generic[V]):
    """A dict whose entries expire ``ttl_s`` after their last write, with at most ``max_items``
    entries and about ``max_bytes`` bytes (``approx_bytes``), whichever binds first.

    Writes move an entry to the back, so the front always holds the entry that expires first
    (one TTL per map); expiry and eviction pop from the front, O(1) per entry dropped."""

    def __init__(
        self,
        ttl_s: float,
        max_items: int,
        clock: Callable[[], float],
        max_bytes: int | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.bytes = 0
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, V, int]] = OrderedDict()
        self.on_drop: Callable[[str], None] | None = None

    def _full(self) -> bool:
        return len(self._items) > self.max_items or (
            self.max_bytes is not None and self.bytes > self.max_bytes
        )

    def _purge(self) -> None:
        now = self._clock()
        items = self._items
        while items:
            key, (expires, _, size) = next(iter(items.items()))
            if expires > now and not self._full():
                break
            items.popitem(last=False)
            self.bytes -= size
            if self.on_drop is not None:
                self.on_drop(key)

    def get(self, key: str) -> V | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            self._purge()
            return None
        return hit[1]

    def set(self, key: str, value: V) -> None:
        old = self._items.get(key)
        if old is not None:
            self.bytes -= old[2]
        size = approx_bytes(key, value)
        self._items[key] = (self._clock() + self.ttl_s, value, size)
        self.bytes += size
        self._items.move_to_end(key)
        self._purge()

    def charge(self, key: str, extra: int) -> None:
        """Count ``extra`` bytes kept beside an entry (dropped with it) against the budget."""
        hit = self._items.get(key)
        if hit is not None:
            self._items[key] = (hit[0], hit[1], hit[2] + extra)
            self.bytes += extra
            self._purge()

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        self._purge()
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        self._purge()
        return iter(list(self._items))


class MemoryStore:
    kind = "memory"

    def __init__(
        self,
        limits: StateLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self._wall = wall_clock
        share = limits.memory_max_bytes // 4  # decisions 2/4, sessions and stats 1/4 each
        self.decisions: TTLMap[dict[str, Any]] = TTLMap(
            limits.decision_ttl_s, limits.decision_log_size, clock, 2 * share
        )
        self._feedback: dict[str, dict[str, Any]] = {}
        self.decisions.on_drop = self._forget_feedback
        self.sessions: TTLMap[str] = TTLMap(
            limits.sticky_ttl_s, limits.session_cache_size, clock, share
        )
        self.stats: TTLMap[ModelStat] = TTLMap(
            limits.stats.ttl_s, limits.stats_max_entries, clock, share
        )
        self.counters: dict[str, dict[str, float]] = {}

    def _forget_feedback(self, decision_id: str) -> None:
        self._feedback.pop(decision_id, None)

    async def get_sticky(self, key: str) -> Lookup[str | None]:
        return Lookup(True, self.sessions.get(key))

    async def set_sticky(self, key: str, candidate_id: str) -> bool:
        self.sessions.set(key, candidate_id)
        return True

    async def record_decision(self, decision_id: str, record: dict[str, Any]) -> bool:
        self.decisions.set(decision_id, record)
        return True

    async def record_feedback(self, decision_id: str, outcome: dict[str, Any]) -> FeedbackResult:
        record = self.decisions.get(decision_id)
        if record is None:
            return FeedbackResult(found=False, duplicate=False)
        if decision_id in self._feedback:
            return FeedbackResult(found=True, duplicate=True, record=record)
        self._feedback[decision_id] = outcome
        self.decisions.charge(decision_id, approx_bytes("", outcome))
        return FeedbackResult(found=True, duplicate=False, record=record)

    @staticmethod
    def _stats_key(category: str, model: str) -> str:
        return f"{category}\x1f{model}"

    async def read_stats(
        self, category: str, models: Sequence[str]
    ) -> Lookup[dict[str, ModelStat]]:
        out: dict[str, ModelStat] = {}
        for m in models:
            s = self.stats.get(self._stats_key(category, m))
            if s is not None:
                out[m] = s
        return Lookup(True, out)

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
        key = self._stats_key(category, model)
        self.stats.set(
            key,
            updated(
                self.stats.get(key),
                reward,
                now,
                self.limits.stats,
                latency_ms=latency_ms,
                cost_usd=cost_usd,
            ),
        )
        return True

    async def incr_counters(self, group: str, deltas: Mapping[str, float]) -> bool:
        counters = self.counters.setdefault(group, {})
        for name, d in deltas.items():
            counters[name] = counters.get(name, 0.0) + d
        return True

    async def read_counters(self, group: str) -> Lookup[dict[str, float]]:
        return Lookup(True, dict(self.counters.get(group, {})))

    def __len__(self) -> int:
        return len(self.decisions)

    async def close(self) -> None:
        return None
