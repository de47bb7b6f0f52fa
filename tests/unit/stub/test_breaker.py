"""Circuit breaker: N failures -> open for T seconds -> one half-open probe -> closed or open."""

from __future__ import annotations

import pytest
from routeiq_litellm.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures() -> None:
    b = CircuitBreaker(failure_threshold=3, reset_timeout_s=10, clock=Clock())
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert not b.allow()
    assert b.times_opened == 1


def test_success_resets_the_failure_count() -> None:
    b = CircuitBreaker(failure_threshold=2, reset_timeout_s=10, clock=Clock())
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_half_open_allows_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=1, reset_timeout_s=5, clock=clock)
    b.record_failure()
    clock.now += 4.9
    assert not b.allow()
    clock.now += 0.2
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()  # the probe
    assert not b.allow()  # others wait for it
    b.record_success()
    assert b.state is BreakerState.CLOSED
    assert b.allow() and b.allow()


def test_failed_probe_opens_again_for_a_full_period() -> None:
    clock = Clock()
    b = CircuitBreaker(failure_threshold=2, reset_timeout_s=5, clock=clock)
    b.record_failure()
    b.record_failure()
    clock.now += 5
    assert b.allow()
    b.record_failure()  # one failure is enough in half-open
    assert b.state is BreakerState.OPEN
    clock.now += 4
    assert not b.allow()
    clock.now += 1
    assert b.allow()
    assert b.times_opened == 2


@pytest.mark.parametrize("kw", [{"failure_threshold": 0}, {"reset_timeout_s": -1}])
def test_rejects_nonsense_settings(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kw)  # type: ignore[arg-type]
