"""Concurrent predictions share one call; each caller gets its own answer, errors stay in
their run, a cancelled caller is dropped."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Sequence

import pytest

from routeiq_sidecar.engine.coalesce import Coalescer

SAFETY_S = 30.0


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
