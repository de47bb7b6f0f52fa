"""Shared bits of the state tests."""

from __future__ import annotations

from routeiq_sidecar.state.stats import StatsPolicy
from routeiq_sidecar.state.store import StateLimits


class FakeClock:
    """A clock the test moves by hand (TTL and half-life without sleeping)."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


def limits(**kw: float) -> StateLimits:
    base: dict[str, object] = {
        "decision_ttl_s": 60,
        "decision_log_size": 100,
        "sticky_ttl_s": 30,
        "session_cache_size": 50,
        "stats": StatsPolicy.from_window(20, 3600, 600),
        "stats_max_entries": 40,
    }
    base.update(kw)
    return StateLimits(**base)  # type: ignore[arg-type]
