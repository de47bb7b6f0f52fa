"""The in-process store: TTL and size bounds hold under many sessions and decisions."""

from __future__ import annotations

from routeiq_sidecar.state.memory import MemoryStore, TTLMap
from routeiq_sidecar.state.stats import updated
from tests.unit.state.helpers import FakeClock, limits


async def test_decision_log_is_bounded_by_size_and_keeps_the_newest() -> None:
    store = MemoryStore(limits(decision_log_size=100), clock=FakeClock())
    for i in range(5000):
        await store.record_decision(f"d{i}", {"selected_model": "m"})
    assert len(store) == 100
    assert (await store.record_feedback("d0", {"score": 1})).found is False
    assert (await store.record_feedback("d4999", {"score": 1})).found is True


async def test_decisions_expire_after_their_ttl() -> None:
    clock = FakeClock()
    store = MemoryStore(limits(decision_ttl_s=60), clock=clock)
    await store.record_decision("old", {"category": "c"})
    clock.advance(30)
    await store.record_decision("young", {"category": "c"})
    clock.advance(31)
    assert (await store.record_feedback("old", {"score": 1})).found is False
    res = await store.record_feedback("young", {"score": 1})
    assert res.found and not res.duplicate and res.record == {"category": "c"}
    clock.advance(60)
    assert len(store) == 0


async def test_feedback_is_idempotent_per_decision() -> None:
    store = MemoryStore(limits(), clock=FakeClock())
    await store.record_decision("d", {"x": 1})
    first = await store.record_feedback("d", {"score": 0.5})
    again = await store.record_feedback("d", {"score": 0.9})
    assert (first.found, first.duplicate) == (True, False)
    assert (again.found, again.duplicate) == (True, True)
    assert (await store.record_feedback("nope", {"score": 1})).found is False


async def test_feedback_markers_go_with_their_decisions() -> None:
    store = MemoryStore(limits(decision_log_size=10), clock=FakeClock())
    for i in range(1000):
        await store.record_decision(f"d{i}", {})
        await store.record_feedback(f"d{i}", {"success": True})
    assert len(store._feedback) <= 10


async def test_sessions_bounded_under_many_sessions() -> None:
    clock = FakeClock()
    store = MemoryStore(limits(session_cache_size=50, sticky_ttl_s=30), clock=clock)
    for i in range(20_000):
        await store.set_sticky(f"g:s{i}", f"dep{i % 3}")
        if i % 1000 == 0:
            clock.advance(1)
    assert len(store.sessions) == 50
    assert (await store.get_sticky("g:s0")).value is None
    got = await store.get_sticky("g:s19999")
    assert got.ok and got.value == "dep1"  # 19999 % 3


async def test_sticky_ttl_slides_with_each_turn() -> None:
    clock = FakeClock()
    store = MemoryStore(limits(sticky_ttl_s=30), clock=clock)
    await store.set_sticky("g:a", "x")
    await store.set_sticky("g:b", "y")
    for _ in range(5):  # a live session keeps refreshing its entry
        clock.advance(20)
        assert (await store.get_sticky("g:a")).value == "x"
        await store.set_sticky("g:a", "x")
    assert (await store.get_sticky("g:b")).value is None  # idle for 100 s > 30 s
    clock.advance(31)
    assert (await store.get_sticky("g:a")).value is None


async def test_stats_follow_the_shared_rule_and_stay_bounded() -> None:
    lim = limits(stats_max_entries=40)
    store = MemoryStore(lim, clock=FakeClock())
    want = None
    for i, r in enumerate((1.0, 0.0, 0.5)):
        await store.update_stats("code", "m1", r, now=float(i), latency_ms=10)
        want = updated(want, r, float(i), lim.stats, latency_ms=10)
    got = await store.read_stats("code", ["m1", "m2"])
    assert got.ok and got.value == {"m1": want}
    for i in range(500):
        await store.update_stats(f"c{i}", "m", 1.0, now=0.0)
    assert len(store.stats) == 40


async def test_stats_expire_after_their_ttl() -> None:
    clock = FakeClock()
    store = MemoryStore(limits(), clock=clock)  # stats ttl 600 s
    await store.update_stats("c", "m", 1.0, now=0.0)
    clock.advance(601)
    assert (await store.read_stats("c", ["m"])).value == {}


async def test_counters_add_up() -> None:
    store = MemoryStore(limits())
    await store.incr_counters("exp", {"arm:a:decisions": 1, "arm:a:reward_sum": 0.25})
    await store.incr_counters("exp", {"arm:a:decisions": 1, "arm:a:reward_sum": 0.5})
    got = await store.read_counters("exp")
    assert got.ok and got.value == {"arm:a:decisions": 2, "arm:a:reward_sum": 0.75}
    assert (await store.read_counters("other")).value == {}


def test_ttl_map_expires_and_evicts_oldest_first() -> None:
    clock = FakeClock()
    m: TTLMap[int] = TTLMap(10, 3, clock)
    dropped: list[str] = []
    m.on_drop = dropped.append
    for k in "abcd":
        m.set(k, 1)
    assert list(m) == ["b", "c", "d"] and dropped == ["a"]
    m.set("b", 2)  # a write refreshes the entry
    clock.advance(11)
    assert m.get("c") is None and len(m) == 0
