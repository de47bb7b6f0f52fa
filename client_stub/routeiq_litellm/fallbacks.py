"""Every fallback counted by reason, where an operator sees it.

Three places, kept in step by ``FallbackReporter``:

* the stub's ``stats`` (``strategy.stats.snapshot()`` / ``plugin.stats.snapshot()``);
* a Prometheus counter, ``routeiq_litellm_fallbacks_total{reason}`` (and
  ``routeiq_litellm_routed_total``), in ``prometheus_client``'s default registry: the one
  LiteLLM's proxy serves on ``/metrics`` when its ``prometheus`` callback is on. Without
  ``prometheus_client`` installed there is no counter and nothing else changes;
* a WARNING on the ``routeiq_litellm`` logger: the first fallback at once, with its cause, then
  at most one line per ``warn_interval_s`` summing up the fallbacks since the last line by
  reason (so a dead sidecar under load writes one line a minute, not one per call).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from routeiq_litellm.stats import Outcome, Stats

log = logging.getLogger("routeiq_litellm")

_METRICS_LOCK = threading.Lock()
_METRICS: dict[str, Any] = {}


def prometheus_counters() -> dict[str, Any]:
    """The stub's counters in prometheus_client's default registry; {} without the package.
    Created once per process, whatever number of strategies or plugins exist."""
    with _METRICS_LOCK:
        if not _METRICS:
            try:
                from prometheus_client import Counter as PromCounter
            except ImportError:
                return {}
            _METRICS["fallbacks"] = PromCounter(
                "routeiq_litellm_fallbacks",
                "Calls LiteLLM routed on its own because the RouteIQ sidecar gave no usable "
                "answer, by reason (timeout, unreachable, breaker_open, rejected, server_error, "
                "bad_answer, error).",
                ["reason"],
            )
            _METRICS["routed"] = PromCounter(
                "routeiq_litellm_routed", "Calls routed by the RouteIQ sidecar's decision."
            )
        return _METRICS


class FallbackReporter:
    """Counts outcomes; warns about fallbacks at most once per ``warn_interval_s``."""

    def __init__(
        self,
        stats: Stats | None = None,
        warn_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.stats = stats or Stats()
        self.warn_interval_s = warn_interval_s
        self._clock = clock
        self._log = logger
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()  # fallbacks since the last WARNING line
        self._last_warned: float | None = None
        self._since_routed = 0
        self.warnings_logged = 0

    def routed(self) -> None:
        self.stats.count(Outcome.ROUTED)
        metrics = prometheus_counters()
        if metrics:
            metrics["routed"].inc()
        with self._lock:
            recovered, self._since_routed = self._since_routed, 0
        if recovered:
            self._log.info("routeiq: routing by the sidecar again after %d fallbacks", recovered)

    def skipped(self) -> None:
        self.stats.count(Outcome.SKIPPED)

    def fell_back(self, outcome: Outcome, detail: str) -> None:
        """One call LiteLLM routed on its own; ``detail`` says what went wrong."""
        self.stats.count(outcome)
        metrics = prometheus_counters()
        if metrics:
            metrics["fallbacks"].labels(reason=outcome.value).inc()
        now = self._clock()
        with self._lock:
            self._since_routed += 1
            self._pending[outcome.value] += 1
            due = self._last_warned is None or now - self._last_warned >= self.warn_interval_s
            if not due:
                return
            window = (
                "" if self._last_warned is None else f" in the last {now - self._last_warned:.0f}s"
            )
            count = sum(self._pending.values())
            pending = ", ".join(f"{k}={v}" for k, v in sorted(self._pending.items()))
            total = self.stats.snapshot()["fallback"]
            self._pending.clear()
            self._last_warned = now
            self.warnings_logged += 1
        self._log.warning(
            "routeiq: %s fallback(s) to LiteLLM's own routing%s (%s; %d since start); latest: %s",
            count,
            window,
            pending,
            total,
            detail,
        )
