"""Counters of what the stub did: routed by the sidecar, or fell back (and why)."""

from __future__ import annotations

import threading
from collections import Counter
from enum import StrEnum


class Outcome(StrEnum):
    """One per routing call; every value but ROUTED and SKIPPED is a fallback to LiteLLM."""

    ROUTED = "routed"  # the sidecar's choice served the call
    SKIPPED = "skipped"  # nothing to decide (one candidate, or a specific deployment)
    TIMEOUT = "timeout"  # no answer within timeout_ms
    UNREACHABLE = "unreachable"  # connection refused / reset / DNS
    BREAKER_OPEN = "breaker_open"  # not asked: the circuit breaker is open
    REJECTED = "rejected"  # the sidecar answered 4xx (bad input, no eligible candidate)
    SERVER_ERROR = "server_error"  # 5xx, 429, gRPC UNAVAILABLE / RESOURCE_EXHAUSTED ...
    BAD_ANSWER = "bad_answer"  # unparsable answer or a selected_id not among the candidates
    ERROR = "error"  # anything else (a bug in the stub or a LiteLLM API change)

    @property
    def is_fallback(self) -> bool:
        return self not in (Outcome.ROUTED, Outcome.SKIPPED)


class Stats:
    """Thread-safe counters; ``snapshot()`` gives plain numbers for logs, metrics or tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, outcome: Outcome) -> None:
        with self._lock:
            self._counts[outcome.value] += 1
            if outcome.is_fallback:
                self._counts["fallback"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = {o.value: 0 for o in Outcome}
            out["fallback"] = 0
            out.update(self._counts)
            return out
