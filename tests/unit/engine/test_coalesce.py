"""Concurrent predictions share one call; each caller gets its own answer, errors stay in
their run, a cancelled caller is dropped."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Sequence

import pytest

from routeiq_sidecar.engine.coalesce import (
    COMPANY_TTL_S,
    COMPANY_WINDOW,
    GATHER_WINDOW,
    Coalescer,
)

SAFETY_S = 30.0
CHEAP_S = 60.0  # inline_max_s for tests of lone runs on the loop: no preemption takes this long


class Gate:
    """``fn`` for a Coalescer: records each run's inputs; the first run blocks until released,
    so the callers that arrive meanwhile queue behind it."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.runs: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.runs.append(list(items))
        if len(self.runs) == 1:
            self.entered.set()
            self.release.wait(SAFETY_S)
        if self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [10 * i for i in items]


async def _first_run_blocked(co: Coalescer[int, int], gate: Gate) -> asyncio.Task[int]:
    first = asyncio.create_task(co(0))
    await asyncio.to_thread(gate.entered.wait, SAFETY_S)
    assert gate.entered.is_set()
    return first


async def test_callers_that_arrive_during_a_run_share_the_next_one() -> None:
    gate = Gate()
    sizes: list[int] = []
    co: Coalescer[int, int] = Coalescer(gate, max_batch=4, on_run=sizes.append)
    first = await _first_run_blocked(co, gate)
    rest = [asyncio.create_task(co(i)) for i in range(1, 7)]
    await asyncio.sleep(0)
    gate.release.set()
    assert await first == 0
    assert await asyncio.gather(*rest) == [10, 20, 30, 40, 50, 60]
    assert gate.runs == [[0], [1, 2, 3, 4], [5, 6]]  # at most max_batch per run, in order
    assert sizes == [1, 4, 2]  # each run's size, as the metric sees it


async def test_an_idle_coalescer_runs_each_call_at_once() -> None:
    gate = Gate()
    gate.release.set()
    co: Coalescer[int, int] = Coalescer(gate)
    assert [await co(i) for i in range(3)] == [0, 10, 20]
    assert gate.runs == [[0], [1], [2]]


async def test_an_error_fails_only_the_callers_of_its_run() -> None:
    gate = Gate(fail_on=2)
    co: Coalescer[int, int] = Coalescer(gate, max_batch=2)
    first = await _first_run_blocked(co, gate)
    rest = [asyncio.create_task(co(i)) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    gate.release.set()
    out = await asyncio.gather(first, *rest, return_exceptions=True)
    assert out[0] == 0 and out[3] == 30
    assert all(isinstance(e, ValueError) and "bad item 2" in str(e) for e in out[1:3])
    assert await co(4) == 40  # the coalescer keeps serving


async def test_a_caller_cancelled_before_its_run_is_dropped() -> None:
    gate = Gate()
    co: Coalescer[int, int] = Coalescer(gate)
    first = await _first_run_blocked(co, gate)
    gone, kept = asyncio.create_task(co(1)), asyncio.create_task(co(2))
    await asyncio.sleep(0)
    gone.cancel()
    gate.release.set()
    assert await first == 0 and await kept == 20
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert gate.runs == [[0], [2]]


async def test_a_wrong_number_of_answers_is_an_error() -> None:
    co: Coalescer[int, int] = Coalescer(lambda items: [1])
    out = await asyncio.gather(co(1), co(2), return_exceptions=True)  # one run of two
    assert all(isinstance(e, RuntimeError) and "1 answers for 2 inputs" in str(e) for e in out)
    co2: Coalescer[int, int] = Coalescer(lambda items: [])
    with pytest.raises(RuntimeError, match="0 answers for 1 inputs"):
        await co2(1)


async def test_the_worker_thread_ends_with_the_coalescer() -> None:
    before = set(threading.enumerate())
    co: Coalescer[int, int] = Coalescer(lambda items: [2 * i for i in items])
    assert await co(4) == 8
    (thread,) = [t for t in set(threading.enumerate()) - before if t.name == "routeiq-predict"]
    assert await co(5) == 10  # the same thread serves every run
    assert [t for t in set(threading.enumerate()) - before if t.name == "routeiq-predict"] == [
        thread
    ]
    del co
    gc.collect()
    await asyncio.to_thread(thread.join, SAFETY_S)
    assert not thread.is_alive()


class Where:
    """``fn`` that records, per run, its inputs and the thread it ran in; ``sleep_s`` per run."""

    def __init__(self, sleep_s: float = 0.0) -> None:
        self.runs: list[tuple[list[int], str]] = []
        self.sleep_s = sleep_s

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.runs.append((list(items), threading.current_thread().name))
        if self.sleep_s:
            threading.Event().wait(self.sleep_s)
        return [10 * i for i in items]


async def test_a_lone_cheap_prediction_runs_on_the_loop_once_measured() -> None:
    where = Where()
    sizes: list[int] = []
    co: Coalescer[int, int] = Coalescer(where, on_run=sizes.append, inline_max_s=CHEAP_S)
    loop_thread = threading.current_thread().name
    assert [await co(i) for i in range(3)] == [0, 10, 20]
    # the first run of one is measured in the worker thread; the next ones, cheap and alone,
    # skip the two thread hand-offs
    assert where.runs == [([0], "routeiq-predict"), ([1], loop_thread), ([2], loop_thread)]
    assert sizes == [1, 1, 1]


async def test_callers_of_one_loop_turn_share_a_run_off_the_loop_even_when_cheap() -> None:
    where = Where()
    co: Coalescer[int, int] = Coalescer(where, inline_max_s=CHEAP_S)
    assert await co(0) == 0  # measured: cheap
    assert await asyncio.gather(co(1), co(2), co(3)) == [10, 20, 30]
    assert where.runs[1:] == [([1, 2, 3], "routeiq-predict")]


async def test_a_lone_prediction_that_is_slow_stays_off_the_loop() -> None:
    where = Where(sleep_s=0.005)  # a run takes at least 5 ms: five times the default bound
    co: Coalescer[int, int] = Coalescer(where, inline_max_s=0.001)
    assert [await co(i) for i in range(3)] == [0, 10, 20]
    assert [name for _, name in where.runs] == ["routeiq-predict"] * 3


async def test_a_lone_error_on_the_loop_fails_only_its_caller() -> None:
    gate = Gate(fail_on=1)
    gate.release.set()
    co: Coalescer[int, int] = Coalescer(gate, inline_max_s=CHEAP_S)
    assert await co(0) == 0
    with pytest.raises(ValueError, match="bad item 1"):
        await co(1)
    assert await co(2) == 20


async def test_cancelling_the_first_caller_of_a_turn_leaves_the_others_served() -> None:
    where = Where()
    co: Coalescer[int, int] = Coalescer(where)
    first, *others = [asyncio.create_task(co(i)) for i in (1, 2, 3)]
    # one turn: the first caller starts giving the loop its turn, the others join it ...
    await asyncio.sleep(0)
    first.cancel()  # ... and the first is cancelled before it hands the run on
    assert await asyncio.wait_for(asyncio.gather(*others), SAFETY_S) == [20, 30]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [items for items, _ in where.runs] == [[2, 3]]


async def test_inline_max_zero_keeps_every_prediction_off_the_loop() -> None:
    where = Where()
    co: Coalescer[int, int] = Coalescer(where, inline_max_s=0.0)  # predict_on_loop_max_us 0
    assert [await co(i) for i in range(3)] == [0, 10, 20]
    assert [name for _, name in where.runs] == ["routeiq-predict"] * 3


async def test_after_concurrent_callers_lone_ones_stay_off_the_loop_for_a_while() -> None:
    where = Where()
    co: Coalescer[int, int] = Coalescer(where, inline_max_s=CHEAP_S)
    loop_thread = threading.current_thread().name
    assert await co(0) == 0  # measured: cheap
    assert await asyncio.gather(co(1), co(2)) == [10, 20]  # company
    for i in range(COMPANY_WINDOW + 2):
        assert await co(i) == 10 * i
    lone = [name for items, name in where.runs[2:]]
    # the window after the company keeps them in the thread; then sequential calls use the loop
    assert lone[: COMPANY_WINDOW - 1] == ["routeiq-predict"] * (COMPANY_WINDOW - 1)
    assert lone[-2:] == [loop_thread, loop_thread]


async def _two_under_way_after_three(under_way: list[int]) -> None:
    """The callers just created saw three decisions under way (a recent peak of
    ``GATHER_ALL_HERE``, as under load); from the next loop turn two are."""
    under_way[0] = 3
    await asyncio.sleep(0)
    under_way[0] = 2


async def test_under_load_a_run_waits_for_company_until_max_batch() -> None:
    """With ``gather_s`` (predict_gather_us), callers that found company wait for more to
    join their run (one or two decisions under way, where callers lately saw more: gRPC hands
    the loop one call at a time, more are coming), and the run goes as soon as ``max_batch``
    are waiting."""
    where = Where()
    sizes: list[int] = []
    under_way = [2]
    co: Coalescer[int, int] = Coalescer(where, max_batch=4, on_run=sizes.append,
                                        gather_s=SAFETY_S, busy=lambda: under_way[0])
    first = [asyncio.create_task(co(i)) for i in (0, 1)]  # company: the wait begins
    await _two_under_way_after_three(under_way)
    for _ in range(20):
        await asyncio.sleep(0)
    assert where.runs == []  # still gathering
    last = [asyncio.create_task(co(i)) for i in (2, 3)]  # max_batch: the run goes
    assert await asyncio.wait_for(asyncio.gather(*first, *last), SAFETY_S / 3) == [0, 10, 20, 30]
    assert [items for items, _ in where.runs] == [[0, 1, 2, 3]]
    assert sizes == [4]


async def test_the_wait_ends_when_every_decision_under_way_is_waiting() -> None:
    """With ``GATHER_ALL_HERE`` or more decisions under way and all of them waiting, nobody
    is left to join (REST reads the requests at hand at once): the run goes."""
    where = Where()
    under_way = 5
    co: Coalescer[int, int] = Coalescer(where, max_batch=32, gather_s=SAFETY_S,
                                        busy=lambda: under_way)
    first = [asyncio.create_task(co(i)) for i in (0, 1, 2)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert where.runs == []  # two of the five under way are not waiting yet
    under_way = 4  # one of them finished without a prediction; the other arrives
    last = asyncio.create_task(co(3))
    assert await asyncio.wait_for(asyncio.gather(*first, last), SAFETY_S / 3) == [0, 10, 20, 30]
    assert [items for items, _ in where.runs] == [[0, 1, 2, 3]]


async def test_the_wait_for_company_ends_after_gather_s() -> None:
    where = Where()
    under_way = [2]
    co: Coalescer[int, int] = Coalescer(where, max_batch=32, gather_s=0.002,
                                        busy=lambda: under_way[0])
    both = asyncio.gather(co(0), co(1))  # nobody else comes: only the timer ends the wait
    await _two_under_way_after_three(under_way)
    assert await asyncio.wait_for(both, SAFETY_S) == [0, 10]
    assert [items for items, _ in where.runs] == [[0, 1]]


async def test_a_lone_caller_waits_only_right_after_company() -> None:
    """Sequential callers find no company, so none waits ``gather_s`` (30 s: a wait would
    trip the guard), also after concurrent ones once ``GATHER_WINDOW`` callers have passed."""
    where = Where()
    co: Coalescer[int, int] = Coalescer(where, gather_s=SAFETY_S, inline_max_s=0.0,
                                        busy=lambda: 1)

    async def sequential(n: int) -> list[int]:
        return [await co(i) for i in range(n)]

    assert await asyncio.wait_for(sequential(3), SAFETY_S / 3) == [0, 10, 20]
    co.gather_s = 0.001  # company, then the window's callers: each may wait a little
    assert await asyncio.gather(co(0), co(1)) == [0, 10]
    assert await sequential(GATHER_WINDOW) == [10 * i for i in range(GATHER_WINDOW)]
    co.gather_s = SAFETY_S
    assert await asyncio.wait_for(sequential(3), SAFETY_S / 3) == [0, 10, 20]


async def _pairs(co: Coalescer[int, int], n: int) -> None:
    """``n`` rounds of a client with two requests in flight (both arrive in one loop turn,
    the next two once both are answered), each round within the guard."""
    for i in range(n):
        got = await asyncio.wait_for(asyncio.gather(co(2 * i), co(2 * i + 1)), SAFETY_S / 3)
        assert got == [20 * i, 20 * i + 10]


async def test_two_in_flight_and_never_more_do_not_wait_for_a_third() -> None:
    """A client with two requests in flight: both under way, both waiting, and no caller saw
    more under way lately, so no run waits (30 s would trip the guard); gRPC's shape, the
    first caller alone and the second arriving during its wait, ends the wait on arrival."""
    where = Where()
    under_way = [2]
    co: Coalescer[int, int] = Coalescer(where, max_batch=32, gather_s=SAFETY_S,
                                        busy=lambda: under_way[0])
    await _pairs(co, 2 * GATHER_WINDOW)
    assert [len(items) for items, _ in where.runs] == [2] * (2 * GATHER_WINDOW)
    under_way[0] = 1
    first = asyncio.create_task(co(0))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not first.done()  # one under way of the two seen lately: the other is coming
    under_way[0] = 2
    assert await asyncio.wait_for(asyncio.gather(first, co(1)), SAFETY_S / 3) == [0, 10]
    assert where.runs[-1][0] == [0, 1]


async def test_a_burst_keeps_runs_waiting_for_one_to_two_windows_of_callers() -> None:
    """After callers saw ``GATHER_ALL_HERE`` or more under way, two waiting of two under way
    still wait (more may be coming) until ``GATHER_WINDOW`` to twice that many callers have
    seen no more than two."""
    where = Where()
    under_way = [5]
    co: Coalescer[int, int] = Coalescer(where, max_batch=3, gather_s=SAFETY_S,
                                        busy=lambda: under_way[0])
    assert await asyncio.gather(co(0), co(1), co(2)) == [0, 10, 20]  # max_batch: no wait
    under_way[0] = 2
    pair = asyncio.gather(co(0), co(1))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not pair.done()  # waiting: callers lately saw five under way
    third = co(2)  # max_batch: the run goes
    assert await asyncio.wait_for(asyncio.gather(pair, third), SAFETY_S / 3) == [[0, 10], 20]
    co.gather_s = 0.0005
    await _pairs(co, GATHER_WINDOW)  # each may wait 0.5 ms
    co.gather_s = SAFETY_S
    await _pairs(co, 3)  # none waits now


async def test_a_lone_caller_back_after_a_pause_runs_on_the_loop() -> None:
    """The window after company that keeps lone runs in the thread also ends
    ``COMPANY_TTL_S`` after the last caller that found company (time on the coalescer's
    clock, here a fake one)."""
    where = Where()
    now = [0.0]
    co: Coalescer[int, int] = Coalescer(where, inline_max_s=CHEAP_S, clock=lambda: now[0])
    loop_thread = threading.current_thread().name
    assert await co(0) == 0  # measured: cheap
    assert await asyncio.gather(co(1), co(2)) == [10, 20]  # company at t = 0
    now[0] = COMPANY_TTL_S / 2
    assert await co(3) == 30
    now[0] = COMPANY_TTL_S * 1.5  # no caller found company since t = 0
    assert await co(4) == 40
    assert where.runs[-2:] == [([3], "routeiq-predict"), ([4], loop_thread)]


async def test_a_caller_back_after_a_pause_does_not_wait_for_company() -> None:
    """Right after a burst (callers saw three under way) a lone caller waits for company
    (``gather_s``; more may be coming); ``COMPANY_TTL_S`` after the last caller that found
    company it goes at once (30 s of waiting would trip the guard), however few callers
    passed meanwhile."""
    where = Where()
    now = [0.0]
    under_way = [3]
    co: Coalescer[int, int] = Coalescer(where, max_batch=3, gather_s=SAFETY_S, inline_max_s=0.0,
                                        busy=lambda: under_way[0], clock=lambda: now[0])
    assert await asyncio.gather(co(0), co(1), co(2)) == [0, 10, 20]  # max_batch: no wait
    under_way[0] = 1
    now[0] = COMPANY_TTL_S / 2
    lone = asyncio.create_task(co(3))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not lone.done()  # waiting: callers lately saw three under way
    more = [asyncio.create_task(co(i)) for i in (4, 5)]  # max_batch: the run goes
    assert await asyncio.wait_for(asyncio.gather(lone, *more), SAFETY_S / 3) == [30, 40, 50]
    now[0] += COMPANY_TTL_S * 1.5  # the last company was at TTL / 2
    assert await asyncio.wait_for(co(6), SAFETY_S / 3) == 60
    assert [items for items, _ in where.runs] == [[0, 1, 2], [3, 4, 5], [6]]
