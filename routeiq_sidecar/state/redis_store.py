"""Shared state in Redis (``ROUTEIQ_REDIS_URL``), for every replica of the sidecar.

Keys (``P`` = ``redis_key_prefix``, default ``routeiq:``):

==============================  ===========================================  ==================
``P dec:{decision_id}``         JSON decision record (what feedback learns)  ``decision_ttl_s``
``P fb:{decision_id}``          JSON outcome; SET NX makes feedback          ``decision_ttl_s``
                                idempotent across replicas
``P sticky:{group}:{session}``  deployment id of a session                   ``sticky_ttl_s``,
                                                                             refreshed per turn
``P stats:{category}:{model}``  hash n, mean, ts, latency_ms, cost_usd       ``stats_ttl_s``
``P exp:{experiment}``          hash of counters per arm                     none
==============================  ===========================================  ==================

Failure: every call is bounded by ``redis_timeout_ms``. A failed or slow call returns a
"state unavailable" result (never an exception), counts ``routeiq_state_errors_total{op}``,
logs at most one line per ``LOG_EVERY_S`` (with the count of failures not logged), and opens a
breaker: for a backoff that
doubles from ``BACKOFF_MIN_S`` to ``BACKOFF_MAX_S`` calls answer "unavailable" at once, then one
call probes Redis; its success closes the breaker (reconnected), its failure doubles the wait.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from redis.asyncio import Redis

from routeiq_sidecar.state.redis_url import close_client, redis_client
from routeiq_sidecar.state.stats import ModelStat
from routeiq_sidecar.state.store import FeedbackResult, Lookup, StateLimits

if TYPE_CHECKING:
    from routeiq_sidecar.telemetry.metrics import Metrics

log = logging.getLogger("routeiq.state")
T = TypeVar("T")

BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0
LOG_EVERY_S = 10.0
STAT_FIELDS = ("n", "mean", "ts", "latency_ms", "cost_usd")

# KEYS: decision, feedback marker. ARGV: outcome JSON, ttl.
# -> {0} unknown, {1, record} first feedback, {2, record} duplicate.
FEEDBACK_LUA = """
local rec = redis.call('GET', KEYS[1])
if not rec then return {0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return {1, rec} end
return {2, rec}
"""

# KEYS: stats hash. ARGV: reward, now, discount, half_life_s, ttl_s, latency_ms, cost_usd.
# The twin of state/stats.py `updated` (tests keep them equal).
STATS_LUA = """
local r, now, g = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local hl, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local lat, cost = tonumber(ARGV[6]), tonumber(ARGV[7])
local h = redis.call('HMGET', KEYS[1], 'n', 'mean', 'ts', 'latency_ms', 'cost_usd')
local n, mean, plat, pcost = 1, r, 0, 0
if h[1] and h[2] and h[3] then
  local decay = 1
  if hl > 0 then decay = 0.5 ^ (math.max(now - tonumber(h[3]), 0) / hl) end
  n = tonumber(h[1]) * decay * g + 1
  mean = tonumber(h[2])
  mean = mean + (r - mean) / n
  plat, pcost = tonumber(h[4]) or 0, tonumber(h[5]) or 0
end
local a = math.max(1 - g, 1 / n)
if lat > 0 then if plat > 0 then plat = plat + (lat - plat) * a else plat = lat end end
if cost > 0 then if pcost > 0 then pcost = pcost + (cost - pcost) * a else pcost = cost end end
local f = '%.17g'
redis.call('HSET', KEYS[1], 'n', string.format(f, n), 'mean', string.format(f, mean),
  'ts', string.format(f, now), 'latency_ms', string.format(f, plat),
  'cost_usd', string.format(f, pcost))
redis.call('EXPIRE', KEYS[1], ttl)
return 1
"""


class Breaker:
    """Open after a failure for a doubling, jittered backoff; then one probe at a time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.down = False
        self.backoff = 0.0
        self.open_until = 0.0
        self.probing = False

    def allow(self) -> bool:
        if not self.down:
            return True
        if self.probing or self._clock() < self.open_until:
            return False
        self.probing = True
        return True

    def success(self) -> bool:
        """True when this success ends an outage."""
        was_down, self.down, self.backoff, self.probing = self.down, False, 0.0, False
        return was_down

    def failure(self) -> float:
        self.backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self.backoff * 2))
        self.open_until = self._clock() + self.backoff * random.uniform(0.8, 1.2)
        self.down, self.probing = True, False
        return self.backoff

    def retry_after_s(self) -> int:
        """Whole seconds until the next probe may reach Redis (at least 1)."""
        return max(1, math.ceil(self.open_until - self._clock())) if self.down else 1

    def release(self) -> None:
        """A call ended without an answer either way (cancelled): let another probe."""
        self.probing = False


class RedisStore:
    kind = "redis"

    def __init__(
        self,
        url: str,
        limits: StateLimits,
        *,
        timeout_ms: int = 100,
        max_connections: int = 32,
        prefix: str = "routeiq:",
        metrics: Metrics | None = None,
    ) -> None:
        self.limits = limits
        self.timeout_s = timeout_ms / 1000
        self.prefix = prefix
        self.metrics = metrics
        self.breaker = Breaker()
        self._last_log = -LOG_EVERY_S
        self._suppressed = 0
        self.redis: Redis = redis_client(
            url, timeout_s=self.timeout_s, max_connections=max_connections
        )
        self._feedback_script = self.redis.register_script(FEEDBACK_LUA)
        self._stats_script = self.redis.register_script(STATS_LUA)

    # --- keys
    def _k(self, kind: str, *parts: str) -> str:
        return self.prefix + ":".join((kind, *parts))

    # --- the guard every call goes through
    async def _call(self, op: str, fn: Callable[[], Awaitable[T]]) -> tuple[bool, T | None]:
        if not self.breaker.allow():
            self._count_error(op)
            return False, None
        try:
            async with asyncio.timeout(self.timeout_s):
                value = await fn()
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as exc:  # any failure of the store is "unavailable", never the caller's
            backoff = self.breaker.failure()
            self._count_error(op)
            if self.metrics is not None:
                self.metrics.state_up.set(0)
            self._log_failure(op, exc, backoff)
            return False, None
        if self.breaker.success():
            log.warning("state store reachable again (redis); shared state resumes")
        if self.metrics is not None:
            self.metrics.state_up.set(1)
        return True, value

    def _count_error(self, op: str) -> None:
        if self.metrics is not None:
            self.metrics.state_errors.labels(op).inc()

    def _log_failure(self, op: str, exc: BaseException, backoff: float) -> None:
        now = time.monotonic()
        if now - self._last_log < LOG_EVERY_S:
            self._suppressed += 1
            return
        self._last_log, more, self._suppressed = now, self._suppressed, 0
        log.warning(
            "state store unavailable (redis, op=%s: %s); routing continues without shared "
            "state, next try in %.1f s%s",
            op,
            type(exc).__name__ if isinstance(exc, TimeoutError) else f"{type(exc).__name__} {exc}",
            backoff,
            f" ({more} similar failures not logged)" if more else "",
        )

    # --- Store
    async def ping(self) -> bool:
        ok, _ = await self._call("ping", self.redis.ping)
        return ok

    async def get_sticky(self, key: str) -> Lookup[str | None]:
        ok, value = await self._call("get_sticky", lambda: self.redis.get(self._k("sticky", key)))
        return Lookup(ok, _text(value) if ok and value is not None else None)

    async def set_sticky(self, key: str, candidate_id: str) -> bool:
        ttl = max(1, int(self.limits.sticky_ttl_s))
        ok, _ = await self._call(
            "set_sticky", lambda: self.redis.set(self._k("sticky", key), candidate_id, ex=ttl)
        )
        return ok

    async def record_decision(self, decision_id: str, record: dict[str, Any]) -> bool:
        body = json.dumps(record, separators=(",", ":"))
        ttl = max(1, int(self.limits.decision_ttl_s))
        ok, _ = await self._call(
            "record_decision", lambda: self.redis.set(self._k("dec", decision_id), body, ex=ttl)
        )
        return ok

    async def record_feedback(self, decision_id: str, outcome: dict[str, Any]) -> FeedbackResult:
        ttl = max(1, int(self.limits.decision_ttl_s))
        ok, res = await self._call(
            "record_feedback",
            lambda: self._feedback_script(
                keys=[self._k("dec", decision_id), self._k("fb", decision_id)],
                args=[json.dumps(outcome, separators=(",", ":")), ttl],
            ),
        )
        if not ok or not isinstance(res, list):
            return FeedbackResult(
                found=False,
                duplicate=False,
                available=False,
                retry_after_s=self.breaker.retry_after_s(),
            )
        code = int(res[0])
        if code == 0:
            return FeedbackResult(found=False, duplicate=False)
        record = json.loads(res[1])
        return FeedbackResult(found=True, duplicate=code == 2, record=record)

    async def read_stats(
        self, category: str, models: Sequence[str]
    ) -> Lookup[dict[str, ModelStat]]:
        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for m in models:
                pipe.hmget(self._k("stats", category, m), STAT_FIELDS)
            return list(await pipe.execute())

        ok, rows = await self._call("read_stats", run)
        if not ok or rows is None:
            return Lookup(False, {})
        out: dict[str, ModelStat] = {}
        for m, row in zip(models, rows, strict=True):
            if row and row[0] is not None and row[1] is not None and row[2] is not None:
                out[m] = ModelStat(*(float(v) if v is not None else 0.0 for v in row))
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
        p = self.limits.stats
        ok, _ = await self._call(
            "update_stats",
            lambda: self._stats_script(
                keys=[self._k("stats", category, model)],
                args=[
                    repr(float(reward)),
                    repr(float(now)),
                    repr(p.discount),
                    repr(float(p.half_life_s)),
                    max(1, int(p.ttl_s)),
                    repr(float(latency_ms)),
                    repr(float(cost_usd)),
                ],
            ),
        )
        return ok

    async def incr_counters(self, group: str, deltas: Mapping[str, float]) -> bool:
        async def run() -> Any:
            pipe = self.redis.pipeline(transaction=True)
            for name, d in deltas.items():  # HINCRBYFLOAT also adds to integer-looking values
                pipe.hincrbyfloat(self._k("exp", group), name, float(d))
            return await pipe.execute()

        ok, _ = await self._call("incr_counters", run)
        return ok

    async def read_counters(self, group: str) -> Lookup[dict[str, float]]:
        ok, raw = await self._call(
            "read_counters", lambda: self.redis.hgetall(self._k("exp", group))
        )
        if not ok or raw is None:
            return Lookup(False, {})
        return Lookup(True, {_text(k): float(v) for k, v in raw.items()})

    async def close(self) -> None:
        try:
            await close_client(self.redis)
        except Exception as exc:  # closing a dead connection must not fail the shutdown
            log.debug("closing redis: %s", exc)


def _text(v: str | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else v
