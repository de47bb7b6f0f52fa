"""Per-(category, model) outcome statistics: a forgetting running mean of feedback rewards.

Both stores apply the same update: the memory store calls :func:`updated`, the Redis store runs
the Lua twin in ``redis_store.py`` (atomic across replicas). Two kinds of forgetting:

- every new outcome first multiplies the old evidence by ``discount`` (= 1 - 1/window), so about
  ``window`` recent outcomes count and a model that degrades is noticed after tens of outcomes,
  however long its good history;
- evidence also halves every ``half_life_s`` without updates, so a model the router stopped
  sending traffic to is slowly forgiven and measured again (0 = no time decay).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatsPolicy:
    discount: float  # per outcome, 0 < discount <= 1
    half_life_s: float  # 0 = evidence does not fade with time
    ttl_s: float  # a key with no update for this long is dropped

    @classmethod
    def from_window(cls, window: int, half_life_s: float, ttl_s: float) -> StatsPolicy:
        return cls(discount=1.0 - 1.0 / max(window, 1), half_life_s=half_life_s, ttl_s=ttl_s)


@dataclass(frozen=True)
class ModelStat:
    n: float  # evidence (discounted outcome count) at ``ts``
    mean: float  # discounted mean reward, 0..1
    ts: float  # epoch seconds of the last update (shared by replicas, so wall clock)
    latency_ms: float = 0.0  # discounted mean of reported latencies, 0 = none reported
    cost_usd: float = 0.0  # discounted mean of reported costs, 0 = none reported


def time_decay(dt: float, half_life_s: float) -> float:
    return 0.5 ** (max(dt, 0.0) / half_life_s) if half_life_s > 0 else 1.0


def evidence(stat: ModelStat, now: float, half_life_s: float) -> float:
    """How many outcomes ``stat`` is worth at ``now``."""
    return stat.n * time_decay(now - stat.ts, half_life_s)


def _ewma(prev: float, value: float, alpha: float) -> float:
    if value <= 0:
        return prev
    return value if prev <= 0 else prev + (value - prev) * alpha


def updated(
    stat: ModelStat | None,
    reward: float,
    now: float,
    policy: StatsPolicy,
    *,
    latency_ms: float = 0.0,
    cost_usd: float = 0.0,
) -> ModelStat:
    """``stat`` after one more outcome (the Lua script in redis_store.py mirrors this)."""
    if stat is None:
        n, mean, lat, cost = 1.0, reward, 0.0, 0.0
    else:
        n = evidence(stat, now, policy.half_life_s) * policy.discount + 1.0
        mean = stat.mean + (reward - stat.mean) / n
        lat, cost = stat.latency_ms, stat.cost_usd
    alpha = max(1.0 - policy.discount, 1.0 / n)
    return ModelStat(
        n=n,
        mean=mean,
        ts=now,
        latency_ms=_ewma(lat, latency_ms, alpha),
        cost_usd=_ewma(cost, cost_usd, alpha),
    )
