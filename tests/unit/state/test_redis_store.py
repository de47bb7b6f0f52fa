"""The Redis store against a real redis-server (free port, no persistence)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from routeiq_sidecar.state.redis_store import BACKOFF_MAX_S, BACKOFF_MIN_S, Breaker, RedisStore
from routeiq_sidecar.state.stats import updated
from routeiq_sidecar.telemetry.metrics import Metrics
from tests.redis_support import RedisServer
from tests.unit.state.helpers import FakeClock, limits


def make(server: RedisServer, **kw: object) -> RedisStore:
    args: dict[str, object] = {"timeout_ms": 1000, "metrics": Metrics()}
    args.update(kw)
    return RedisStore(server.url, limits(), **args)  # type: ignore[arg-type]


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    s = make(redis_server)
    yield s
    await s.close()


def errors(store: RedisStore, op: str) -> float:
    assert store.metrics is not None
    return store.metrics.state_errors.labels(op)._value.get()


async def test_sticky_round_trip_with_ttl(store: RedisStore, redis_server: RedisServer) -> None:
    assert (await store.get_sticky("auto:s1")).value is None
    assert await store.set_sticky("auto:s1", "dep-a")
    got = await store.get_sticky("auto:s1")
    assert got.ok and got.value == "dep-a"
    ttl = redis_server.client().ttl("routeiq:sticky:auto:s1")
    assert 0 < ttl <= 30


async def test_decision_log_and_idempotent_feedback(
    store: RedisStore, redis_server: RedisServer
) -> None:
    assert await store.record_decision("d1", {"selected_model": "m", "category": "code"})
    assert 0 < redis_server.client().ttl("routeiq:dec:d1") <= 60
    first = await store.record_feedback("d1", {"score": 0.7})
    again = await store.record_feedback("d1", {"score": 0.1})
    assert (first.found, first.duplicate, first.available) == (True, False, True)
    assert first.record == {"selected_model": "m", "category": "code"}
    assert (again.found, again.duplicate) == (True, True)
    assert 0 < redis_server.client().ttl("routeiq:fb:d1") <= 60
    unknown = await store.record_feedback("nope", {"score": 1})
    assert (unknown.found, unknown.available) == (False, True)
    assert redis_server.client().exists("routeiq:fb:nope") == 0


async def test_concurrent_feedback_from_two_replicas_counts_once(
    redis_server: RedisServer,
) -> None:
    a, b = make(redis_server), make(redis_server)
    await a.record_decision("d", {})
    results = await asyncio.gather(
        *(s.record_feedback("d", {"score": 1}) for s in (a, b) for _ in range(10))
    )
    assert sum(not r.duplicate for r in results) == 1 and all(r.found for r in results)
    await a.close()
    await b.close()


async def test_stats_lua_matches_the_python_rule(store: RedisStore) -> None:
    """The Lua update and state/stats.py `updated` give the same numbers (time decay too)."""
    want = None
    steps = [(1.0, 0.0, 100.0, 0.0), (0.0, 10.0, 0.0, 0.02), (0.5, 4000.0, 300.0, 0.01)]
    steps += [(float(i % 2), 4000.0 + i, 0.0, 0.0) for i in range(30)]
    for reward, now, lat, cost in steps:
        assert await store.update_stats(
            "code", "openai/gpt-4o", reward, now=now, latency_ms=lat, cost_usd=cost
        )
        want = updated(want, reward, now, store.limits.stats, latency_ms=lat, cost_usd=cost)
    got = await store.read_stats("code", ["openai/gpt-4o", "absent/model"])
    assert got.ok and set(got.value) == {"openai/gpt-4o"}
    s = got.value["openai/gpt-4o"]
    assert want is not None
    for f in ("n", "mean", "ts", "latency_ms", "cost_usd"):
        assert getattr(s, f) == pytest.approx(getattr(want, f), rel=1e-12, abs=1e-12), f


async def test_stats_keys_expire(store: RedisStore, redis_server: RedisServer) -> None:
    await store.update_stats("chat", "m", 1.0, now=0.0)
    assert 0 < redis_server.client().ttl("routeiq:stats:chat:m") <= 600


async def test_counters_add_floats_and_ints(store: RedisStore) -> None:
    await store.incr_counters("exp1", {"arm:a:decisions": 1, "arm:a:reward_sum": 0.25})
    await store.incr_counters("exp1", {"arm:a:decisions": 1, "arm:a:reward_sum": 1.0})
    got = await store.read_counters("exp1")
    assert got.ok and got.value == {"arm:a:decisions": 2.0, "arm:a:reward_sum": 1.25}


async def test_key_prefix_separates_deployments(redis_server: RedisServer) -> None:
    a, b = make(redis_server, prefix="blue:"), make(redis_server, prefix="green:")
    await a.set_sticky("g:s", "x")
    assert (await b.get_sticky("g:s")).value is None
    assert redis_server.client().exists("blue:sticky:g:s") == 1
    await a.close()
    await b.close()


async def test_redis_down_answers_unavailable_then_reconnects(
    redis_server: RedisServer, store: RedisStore
) -> None:
    assert await store.set_sticky("g:s", "x")
    redis_server.kill()
    got = await store.get_sticky("g:s")  # no exception: an "unavailable" answer
    assert not got.ok and got.value is None
    assert not (await store.record_feedback("d", {"score": 1})).available
    assert not await store.record_decision("d", {})
    assert not (await store.read_stats("c", ["m"])).ok
    assert not await store.update_stats("c", "m", 1.0, now=0.0)
    assert not await store.incr_counters("e", {"x": 1})
    assert not (await store.read_counters("e")).ok
    assert errors(store, "get_sticky") >= 1 and errors(store, "record_feedback") >= 1
    assert store.metrics is not None and store.metrics.state_up._value.get() == 0
    assert store.breaker.down

    redis_server.start()  # same port, empty (no persistence)
    for _ in range(400):  # the breaker lets a probe through after its backoff
        if await store.set_sticky("g:s", "y"):
            break
        await asyncio.sleep(0.025)
    got = await store.get_sticky("g:s")
    assert got.ok and got.value == "y" and not store.breaker.down
    assert store.metrics.state_up._value.get() == 1


async def test_a_slow_redis_is_cut_off_by_the_timeout(redis_server: RedisServer) -> None:
    store = make(redis_server, timeout_ms=50)
    assert await store.set_sticky("g:s", "x")
    pause = threading.Thread(
        target=lambda: redis_server.client().execute_command("CLIENT", "PAUSE", 2000, "ALL")
    )
    pause.start()
    pause.join()
    got = await store.get_sticky("g:s")
    assert not got.ok and errors(store, "get_sticky") == 1
    await store.close()


def test_breaker_backs_off_and_lets_one_probe_through() -> None:
    clock = FakeClock(0.0)
    b = Breaker(clock)
    assert b.allow()
    waits = [b.failure() for _ in range(10)]
    assert waits[0] == BACKOFF_MIN_S and waits[1] == 2 * BACKOFF_MIN_S
    assert waits[-1] == BACKOFF_MAX_S and waits == sorted(waits)
    assert not b.allow()  # open: answers at once, no call to Redis
    clock.advance(BACKOFF_MAX_S * 1.3)
    assert b.allow() and not b.allow()  # one probe at a time
    assert b.success() is True and b.allow() and b.success() is False


def test_breaker_says_how_long_until_the_next_probe() -> None:
    clock = FakeClock(0.0)
    b = Breaker(clock)
    assert b.retry_after_s() == 1  # closed: a plain hint
    for _ in range(10):
        b.failure()
    assert 4 <= b.retry_after_s() <= 6  # BACKOFF_MAX_S (5 s) +-20% jitter, whole seconds
    clock.advance(BACKOFF_MAX_S * 1.3)
    assert b.retry_after_s() == 1  # probe due: at least one second still
