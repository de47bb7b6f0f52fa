"""The forgetting running mean behind feedback learning (state/stats.py)."""

from __future__ import annotations

import pytest

from routeiq_sidecar.state.stats import ModelStat, StatsPolicy, evidence, time_decay, updated

POLICY = StatsPolicy.from_window(10, 100.0, 600)


def test_first_outcome_is_the_mean() -> None:
    s = updated(None, 0.8, 5.0, POLICY, latency_ms=120, cost_usd=0.01)
    assert s == ModelStat(n=1.0, mean=0.8, ts=5.0, latency_ms=120, cost_usd=0.01)


def test_without_forgetting_it_is_the_plain_average() -> None:
    p = StatsPolicy(discount=1.0, half_life_s=0, ttl_s=60)
    s = None
    for r in (1.0, 0.0, 1.0, 1.0):
        s = updated(s, r, 0.0, p)
    assert s is not None and s.n == 4 and s.mean == pytest.approx(0.75)


def test_window_bounds_the_evidence_and_follows_a_change() -> None:
    s = None
    for _ in range(500):
        s = updated(s, 1.0, 0.0, POLICY)
    assert s is not None
    assert s.n == pytest.approx(10.0, rel=1e-3)  # 1 / (1 - discount)
    for _ in range(10):
        s = updated(s, 0.0, 0.0, POLICY)
    # ten bad outcomes after five hundred good ones already pull the mean below 0.4
    assert s.mean < 0.4


def test_evidence_halves_with_time() -> None:
    s = ModelStat(n=8.0, mean=0.5, ts=0.0)
    assert evidence(s, 100.0, 100.0) == pytest.approx(4.0)
    assert evidence(s, 300.0, 100.0) == pytest.approx(1.0)
    assert evidence(s, 300.0, 0.0) == 8.0  # no time decay
    assert time_decay(-5.0, 100.0) == 1.0  # a clock behind the writer's never adds evidence


def test_latency_and_cost_only_move_when_reported() -> None:
    s = updated(None, 1.0, 0.0, POLICY, latency_ms=100)
    s = updated(s, 1.0, 0.0, POLICY)  # no latency in this outcome
    assert s.latency_ms == 100 and s.cost_usd == 0
    s = updated(s, 1.0, 0.0, POLICY, latency_ms=200, cost_usd=0.5)
    assert 100 < s.latency_ms < 200 and s.cost_usd == 0.5
