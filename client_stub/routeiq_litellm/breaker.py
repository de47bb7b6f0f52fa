"""A small thread-safe circuit breaker: stop asking a sidecar that keeps failing.

closed --N consecutive failures--> open --T seconds--> half-open (one probe)
half-open --probe succeeds--> closed;  half-open --probe fails--> open again.
While open (and while a probe is in flight) calls are refused at once, so a dead
sidecar costs the user's call nothing but a lock and a clock read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures; ``allow()`` says whether to try the sidecar now."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout_s < 0:
            raise ValueError(f"reset_timeout_s must be >= 0, got {reset_timeout_s}")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        """The state as a caller would see it now (an expired open reads as half-open)."""
        with self._lock:
            if self._state is BreakerState.OPEN and self._expired():
                return BreakerState.HALF_OPEN
            return self._state

    def _expired(self) -> bool:
        return self._clock() - self._opened_at >= self.reset_timeout_s

    def allow(self) -> bool:
        """True if a call may go to the sidecar; in half-open only one probe at a time."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if not self._expired():
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_in_flight = False
            if self._probe_in_flight:
                return False
            self._probe_in_flight = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probe_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                if self._state is not BreakerState.OPEN:
                    self.times_opened += 1
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
                self._probe_in_flight = False
