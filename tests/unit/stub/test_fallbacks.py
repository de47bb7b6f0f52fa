"""Fallbacks are counted by reason and warned about at most once per interval."""

from __future__ import annotations

import logging

import pytest
from routeiq_litellm.fallbacks import FallbackReporter, prometheus_counters
from routeiq_litellm.stats import Outcome


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_by_reason_and_one_warning_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    rep = FallbackReporter(warn_interval_s=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="routeiq_litellm"):
        rep.fell_back(Outcome.TIMEOUT, "no answer in 50 ms")
        for _ in range(4):
            rep.fell_back(Outcome.UNREACHABLE, "connection refused")
        rep.fell_back(Outcome.TIMEOUT, "no answer in 50 ms")
        clock.now += 61
        rep.fell_back(Outcome.BREAKER_OPEN, "circuit breaker open")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and rep.warnings_logged == 2
    assert "1 fallback(s)" in lines[0] and "timeout=1" in lines[0] and "no answer" in lines[0]
    # the second line sums up everything since the first, by reason
    assert "6 fallback(s)" in lines[1] and "in the last 61s" in lines[1]
    assert "breaker_open=1, timeout=1, unreachable=4" in lines[1]
    assert "7 since start" in lines[1]
    stats = rep.stats.snapshot()
    assert (stats["timeout"], stats["unreachable"], stats["breaker_open"], stats["fallback"]) == (
        2, 4, 1, 7)


def test_routed_and_skipped_are_not_fallbacks(caplog: pytest.LogCaptureFixture) -> None:
    rep = FallbackReporter()
    with caplog.at_level(logging.INFO, logger="routeiq_litellm"):
        rep.routed()
        rep.skipped()
        rep.fell_back(Outcome.SERVER_ERROR, "HTTP 500")
        rep.routed()
    stats = rep.stats.snapshot()
    assert (stats["routed"], stats["skipped"], stats["fallback"]) == (2, 1, 1)
    assert any("again after 1 fallbacks" in r.getMessage() for r in caplog.records)


def test_the_prometheus_counter_is_shared_and_counts_by_reason() -> None:
    counters = prometheus_counters()
    if not counters:
        pytest.skip("prometheus_client is not installed in this venv")
    from prometheus_client import REGISTRY

    def value() -> float:
        found = REGISTRY.get_sample_value("routeiq_litellm_fallbacks_total",
                                          {"reason": "bad_answer"})
        return found or 0.0

    before = value()
    FallbackReporter().fell_back(Outcome.BAD_ANSWER, "not JSON")
    FallbackReporter().fell_back(Outcome.BAD_ANSWER, "not JSON")
    assert value() == before + 2
    assert prometheus_counters() is counters
