"""The SQLite store: two stores on one file behave as one (the workers of `serve --workers N`),
with the memory store's TTLs and bounds, atomic updates, and "unavailable" instead of errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from routeiq_sidecar.state import sqlite_store
from routeiq_sidecar.state.sqlite_store import PRUNE_EVERY, SQLiteStore
from routeiq_sidecar.state.stats import updated
from routeiq_sidecar.state.store import StateLimits
from routeiq_sidecar.telemetry.metrics import Metrics
from tests.unit.state.helpers import FakeClock, limits


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def pair(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[SQLiteStore, SQLiteStore]]:
    """Two stores on one file, as two worker processes have."""
    lim = limits(decision_log_size=100, session_cache_size=50, stats_max_entries=40)
    a = SQLiteStore(tmp_path / "state.sqlite3", lim, clock=clock)
    b = SQLiteStore(tmp_path / "state.sqlite3", lim, clock=clock)
    yield a, b
    await a.close()
    await b.close()


def rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_a_decision_of_one_worker_takes_feedback_at_the_other(
    pair: tuple[SQLiteStore, SQLiteStore],
) -> None:
    a, b = pair
    assert await a.record_decision("d1", {"selected_model": "m", "category": "code"})
    first = await b.record_feedback("d1", {"score": 1.0})
    again = await a.record_feedback("d1", {"score": 0.0})
    assert (first.found, first.duplicate) == (True, False)
    assert first.record == {"selected_model": "m", "category": "code"}
    assert (again.found, again.duplicate, again.available) == (True, True, True)
    unknown = await b.record_feedback("nope", {"score": 1.0})
    assert (unknown.found, unknown.available) == (False, True)


async def test_decisions_and_feedback_expire_after_their_ttl(
    pair: tuple[SQLiteStore, SQLiteStore], clock: FakeClock
) -> None:
    a, b = pair  # decision ttl 60 s
    await a.record_decision("old", {})
    clock.advance(30)
    await a.record_decision("young", {})
    clock.advance(31)
    assert (await b.record_feedback("old", {"score": 1})).found is False
    assert (await b.record_feedback("young", {"score": 1})).found is True


async def test_tables_stay_bounded_and_keep_the_newest(
    pair: tuple[SQLiteStore, SQLiteStore],
) -> None:
    a, b = pair
    for i in range(2000):
        await (a if i % 2 else b).record_decision(f"d{i}", {})
        await (a if i % 2 else b).set_sticky(f"g:s{i}", "dep")
    path = a.path
    assert rows(path, "decisions") <= 100 + PRUNE_EVERY
    assert rows(path, "sticky") <= 50 + PRUNE_EVERY
    assert (await a.record_feedback("d0", {"score": 1})).found is False
    assert (await a.record_feedback("d1999", {"score": 1})).found is True
    assert (await b.get_sticky("g:s1999")).value == "dep"


async def test_expired_rows_are_found_through_an_index(
    pair: tuple[SQLiteStore, SQLiteStore], clock: FakeClock
) -> None:
    """The prune's ``DELETE ... WHERE expires <= ?`` searches an index on ``expires`` in every
    expiring table (a full decision log is 100,000 rows; without it each prune read them all),
    and still removes exactly the expired rows."""
    a, _ = pair
    with sqlite3.connect(a.path) as db:
        for table in ("decisions", "feedback", "sticky", "stats"):
            plan = " ".join(str(r[-1]) for r in db.execute(
                f"EXPLAIN QUERY PLAN DELETE FROM {table} WHERE expires <= ?", (0.0,)))
            assert f"USING INDEX {table}_expires" in plan or (
                f"USING COVERING INDEX {table}_expires" in plan), (table, plan)
    for i in range(PRUNE_EVERY - 1):
        await a.record_decision(f"old{i}", {})
    clock.advance(61)  # past the decision ttl (60 s): the next write's prune drops them all
    await a.record_decision("new", {})
    assert rows(a.path, "decisions") == 1


async def test_stickiness_is_shared_and_slides(
    pair: tuple[SQLiteStore, SQLiteStore], clock: FakeClock
) -> None:
    a, b = pair  # sticky ttl 30 s
    await a.set_sticky("g:a", "x")
    for _ in range(4):
        clock.advance(20)
        got = await b.get_sticky("g:a")
        assert got.ok and got.value == "x"
        await b.set_sticky("g:a", "x")
    clock.advance(31)
    assert (await a.get_sticky("g:a")).value is None


async def test_stats_updates_from_both_workers_are_atomic(
    pair: tuple[SQLiteStore, SQLiteStore],
) -> None:
    a, b = pair
    lim: StateLimits = a.limits
    await asyncio.gather(
        *(s.update_stats("code", "m", 1.0, now=0.0, latency_ms=10) for s in (a, b) * 30)
    )
    want = None
    for _ in range(60):
        want = updated(want, 1.0, 0.0, lim.stats, latency_ms=10)
    got = await b.read_stats("code", ["m", "other"])
    assert got.ok and set(got.value) == {"m"}
    assert got.value["m"].n == pytest.approx(want.n) and got.value["m"].mean == 1.0


async def test_counters_add_up_across_workers(pair: tuple[SQLiteStore, SQLiteStore]) -> None:
    a, b = pair
    await a.incr_counters("exp", {"arm:a:decisions": 1, "arm:a:reward_sum": 0.25})
    await b.incr_counters("exp", {"arm:a:decisions": 1, "arm:a:reward_sum": 0.5})
    got = await a.read_counters("exp")
    assert got.ok and got.value == {"arm:a:decisions": 2, "arm:a:reward_sum": 0.75}
    assert (await b.read_counters("other")).value == {}


async def test_a_locked_file_answers_unavailable_and_counts(tmp_path: Path) -> None:
    metrics = Metrics()
    store = SQLiteStore(tmp_path / "s.sqlite3", limits(), metrics=metrics)
    holder = sqlite3.connect(tmp_path / "s.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock past the timeout
    try:
        assert await store.record_decision("d", {}) is False
        res = await store.record_feedback("d", {"score": 1})
        assert (res.found, res.available) == (False, False)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    errors = metrics.registry.get_sample_value(
        "routeiq_state_errors_total", {"op": "record_decision"}
    )
    assert errors == 1
    assert await store.record_decision("d", {}) is True  # the lock is gone: it works again
    await store.close()


async def test_stats_reads_are_reused_for_a_second_and_own_feedback_shows_at_once(
    pair: tuple[SQLiteStore, SQLiteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    assert (await a.read_stats("code", ["m"])).value == {}
    await b.update_stats("code", "m", 1.0, now=0.0)
    assert (await a.read_stats("code", ["m"])).value == {}  # the reused read, within its ttl
    assert set((await b.read_stats("code", ["m"])).value) == {"m"}  # b wrote it: not reused
    monkeypatch.setattr(sqlite_store, "STATS_READ_TTL_S", 0.0)  # the second has passed
    assert set((await a.read_stats("code", ["m"])).value) == {"m"}
    monkeypatch.setattr(sqlite_store, "STATS_READ_TTL_S", 60.0)
    await a.update_stats("code", "m", 0.0, now=0.0)
    want = updated(updated(None, 1.0, 0.0, a.limits.stats), 0.0, 0.0, a.limits.stats)
    got = (await a.read_stats("code", ["m"])).value["m"]  # both updates, within the ttl
    assert (got.n, got.mean) == (pytest.approx(want.n), pytest.approx(want.mean))
