"""In-process state: a decision log bounded by size and TTL (feedback is idempotent per id)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from routeiq_sidecar.state.store import FeedbackResult


class MemoryStore:
    def __init__(
        self, *, ttl_s: float, max_items: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._clock = clock
        self._decisions: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._feedback: dict[str, dict[str, Any]] = {}

    def _expire(self) -> None:
        now = self._clock()
        while self._decisions:
            key, (expires, _) = next(iter(self._decisions.items()))
            if expires > now and len(self._decisions) <= self.max_items:
                break
            self._decisions.popitem(last=False)
            self._feedback.pop(key, None)

    async def record_decision(self, decision_id: str, record: dict[str, Any]) -> None:
        self._decisions[decision_id] = (self._clock() + self.ttl_s, record)
        self._expire()

    async def record_feedback(self, decision_id: str, outcome: dict[str, Any]) -> FeedbackResult:
        self._expire()
        if decision_id not in self._decisions:
            return FeedbackResult(found=False, duplicate=False)
        if decision_id in self._feedback:
            return FeedbackResult(found=True, duplicate=True)
        self._feedback[decision_id] = outcome
        return FeedbackResult(found=True, duplicate=False)

    def __len__(self) -> int:
        return len(self._decisions)

    async def close(self) -> None:
        return None
