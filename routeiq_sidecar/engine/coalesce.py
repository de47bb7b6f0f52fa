"""Concurrent predictions of one strategy share one call; under load, off the event loop.

A strategy with ``predict_many`` (a list of inputs in, a list of estimates out, in order:
`difficulty`, whose kNN scan of every stored prompt costs much the same for 16 queries as for
a few) is called through a ``Coalescer``. Callers arriving while a run is under way wait
together and go in the next run, at most ``max_batch`` at a time; runs go to the coalescer's
own worker thread, so the event loop keeps reading requests meanwhile. A caller that finds the
coalescer idle first gives the loop one turn, so requests already read can join it; if none
did, it is alone, and when runs of one have been cheap (under ``inline_max_s``, measured; the
``predict_on_loop_max_us`` setting) and none of the last ``COMPANY_WINDOW`` callers found
company, its prediction runs right there on the loop: handing it to the thread and back would
cost two thread wake-ups for nothing (a sequential client pays them on every request), and no
other request is waiting for the loop. Under concurrent load (callers that did find company
lately) lone runs still go to the thread, where the loop serves the others meanwhile; measured
in docs/benchmarks.md ("A lone prediction on the event loop").

With ``gather_s`` (the ``predict_gather_us`` setting), under load (a caller found company
within the last ``GATHER_WINDOW`` callers) a run about to go to the thread first waits up to
``gather_s`` for more callers; it goes at once when ``max_batch`` are waiting, or when every
decision under way in the worker (``busy``, the engine's count) is waiting and there are at
least ``GATHER_ALL_HERE`` of them. A scan of one query costs about three times a query's share
of a scan of eight (229 against 69 us, bench/engine_path.py), and with two workers each loop
rarely finds a run under way to join, so without the wait most runs were of one. The time bound
is what gRPC needs (grpc.aio hands the loop one call at a time: the others are not under way
yet); the count is what REST needs (uvicorn hands over every request read, and a closed-loop
client sends no more until they are answered). Measured in docs/benchmarks.md, "Waiting for
company under load". Where no caller of the last ``GATHER_WINDOW`` (to ``2 x GATHER_WINDOW``)
saw ``GATHER_ALL_HERE`` decisions under way, all of those under way waiting is enough: a
client with two requests in flight has no third to send, and each of its runs waited the whole
``gather_s`` (docs/benchmarks.md, "Two requests in flight"). Both windows also end
``COMPANY_TTL_S`` (20 ms) after the last caller that found company, so a client that comes back
after a pause neither waits for company nor hands its lone run to the thread (before, the first
32 to 64 decisions after a burst did, however far apart they came). A caller cancelled before
its run starts is dropped; an error fails only the callers of its run.

The thread takes runs from a plain queue and hands each result back with one
``call_soon_threadsafe`` (cheaper per run than ``run_in_executor``'s futures and locks); it
ends when the coalescer is collected (a reload's old strategies).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

_EMA = 0.2  # weight of the newest run of one in the average
COMPANY_WINDOW = 64  # callers after one that found company before a lone run may use the loop
GATHER_WINDOW = 32  # callers after one that found company during which runs wait for more
# ... and either window ends this long after the last caller that found company: a client
# that comes back after a pause is not under load (ten waits of the default predict_gather_us)
COMPANY_TTL_S = 0.02
GATHER_ALL_HERE = 3  # with this many decisions under way, all of them waiting ends the wait

In = TypeVar("In")
Out = TypeVar("Out")


class Coalescer(Generic[In, Out]):
    def __init__(self, fn: Callable[[Sequence[In]], Sequence[Out]], max_batch: int = 32,
                 on_run: Callable[[int], None] | None = None,
                 inline_max_s: float = 0.001, gather_s: float = 0.0,
                 busy: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fn = fn
        self._clock = clock  # COMPANY_TTL_S is measured on it (tests pass their own)
        self.max_batch = max(1, int(max_batch))
        # a lone prediction runs on the loop only when runs of one have taken less than this
        # (an exponential average of their wall time; 0: never): the default kNN heads take
        # 0.1-0.5 ms, short enough that a request arriving meanwhile is hardly held up
        self.inline_max_s = float(inline_max_s)
        # a run waits up to this long for the decisions under way (``busy()``) to join it
        self.gather_s = float(gather_s)
        self._busy = busy
        self._gathered: asyncio.Future[None] | None = None  # done: stop waiting for company
        self._on_run = on_run  # told each run's size (the routeiq_predict_batch_size metric)
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps weak refs only
        self._runs: queue.SimpleQueue[_Run | None] | None = None  # the thread's; None: no thread
        self._gathering = False  # an idle coalescer's first caller is giving the loop a turn
        self._single_s: float | None = None  # average wall time of a run of one; None: unknown
        self._calls = 0  # callers so far
        self._company_at = -GATHER_WINDOW - 1  # the last caller that found company
        self._company_t = -math.inf  # and when, on ``clock``
        # the most decisions under way that callers saw, in this window of GATHER_WINDOW
        # callers and in the one before
        self._peak_now = self._peak_before = 0

    def _thread_queue(self) -> queue.SimpleQueue[_Run | None]:
        if self._runs is None:
            runs: queue.SimpleQueue[_Run | None] = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(runs,), name="routeiq-predict",
                             daemon=True).start()
            weakref.finalize(self, runs.put, None)  # the thread ends with the coalescer
            self._runs = runs
        return self._runs

    def _run(self, items: list[In]) -> Sequence[Out]:
        """``fn`` on ``items`` (in the thread or on the loop), timing runs of one."""
        if len(items) != 1:
            return self._fn(items)
        t0 = time.perf_counter()
        out = self._fn(items)
        took = time.perf_counter() - t0
        prev = self._single_s  # a float store: safe from the thread without a lock
        self._single_s = took if prev is None else prev + _EMA * (took - prev)
        return out

    async def __call__(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Out] = loop.create_future()
        self._waiting.append((item, fut))
        self._calls += 1
        if self._busy is not None:
            if self._calls % GATHER_WINDOW == 0:
                self._peak_before, self._peak_now = self._peak_now, 0
            self._peak_now = max(self._peak_now, self._busy())
        if self._drainer is not None or self._gathering:
            # concurrent callers: for the next COMPANY_WINDOW calls, lone ones also go to the
            # thread, where the loop keeps serving the others while a run is under way
            self._company_at = self._calls
            self._company_t = self._clock()
            if self._gathered is not None and not self._worth_waiting():
                _succeed(self._gathered, None)  # everyone who could join has
            return await fut
        # idle: one loop turn for requests already read to reach the coalescer too
        self._gathering = True
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:  # those who joined meanwhile still get their run
            self._gathering = False
            self._waiting = [w for w in self._waiting if w[1] is not fut]
            if self._waiting and self._drainer is None:
                self._drainer = loop.create_task(self._drain())
            raise
        self._gathering = False
        single = self._single_s
        if (len(self._waiting) == 1 and self._waiting[0][1] is fut and single is not None
                and single < self.inline_max_s
                and (self._calls - self._company_at >= COMPANY_WINDOW
                     or not self._company_lately())):
            self._waiting.clear()
            if self._on_run is not None:
                self._on_run(1)
            return _answers(self._run([item]), 1)[0]
        if self._waiting and self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.gather_s > 0 and self._worth_waiting():
                await self._gather(loop)
            while self._waiting:
                take = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                take = [(item, fut) for item, fut in take if not fut.done()]
                if not take:
                    continue
                if self._on_run is not None:
                    self._on_run(len(take))
                try:
                    done: asyncio.Future[Sequence[Out]] = loop.create_future()
                    self._thread_queue().put((self._run, [i for i, _ in take], loop, done))
                    out = _answers(await done, len(take))
                except Exception as exc:
                    for _, fut in take:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), res in zip(take, out, strict=True):
                    if not fut.done():
                        fut.set_result(res)
        finally:
            self._drainer = None

    def _worth_waiting(self) -> bool:
        """Under load (a caller found company within the last ``GATHER_WINDOW`` callers and
        ``COMPANY_TTL_S``), a run not yet full waits for more, unless every decision under way
        in the worker is already waiting and there are at least ``GATHER_ALL_HERE`` of them:
        a transport that hands the loop many requests at once (REST) has then nobody left to
        send; with one or two known (gRPC hands the loop one call at a time) more are on their
        way, unless no recent caller saw more than that many under way (a client with two in
        flight)."""
        if (self._calls - self._company_at > GATHER_WINDOW or len(self._waiting) >= self.max_batch
                or not self._company_lately()):
            return False
        if self._busy is None:
            return True
        busy = self._busy()
        enough = min(GATHER_ALL_HERE, max(self._peak_now, self._peak_before))
        return not (busy >= enough and len(self._waiting) >= busy)

    def _company_lately(self) -> bool:
        """A caller found company within the last ``COMPANY_TTL_S``."""
        return self._clock() - self._company_t <= COMPANY_TTL_S

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait up to ``gather_s`` for more callers to join the run (``_worth_waiting``)."""
        self._gathered = loop.create_future()
        timer = loop.call_later(self.gather_s, _succeed, self._gathered, None)
        try:
            await self._gathered
        finally:
            timer.cancel()
            self._gathered = None


def _answers(out: Sequence[Out], n: int) -> Sequence[Out]:
    if len(out) != n:
        raise RuntimeError(f"predict_many gave {len(out)} answers for {n} inputs")
    return out


_Run = tuple[Callable[[Any], Any], list[Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _serve(runs: queue.SimpleQueue[_Run | None]) -> None:
    """The worker thread: each run's function on its inputs, the outcome settled on the loop."""
    while (run := runs.get()) is not None:
        _one(*run)
        del run  # hold nothing between runs (a reload's old strategies)


def _one(fn: Callable[[Any], Any], items: list[Any], loop: asyncio.AbstractEventLoop,
         done: asyncio.Future[Any]) -> None:
    try:
        out = fn(items)
    except BaseException as exc:  # every outcome reaches the callers (as an executor's would)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: no one waits
            loop.call_soon_threadsafe(_fail, done, exc)
        return
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_succeed, done, out)


def _succeed(done: asyncio.Future[Any], out: Any) -> None:
    if not done.done():
        done.set_result(out)


def _fail(done: asyncio.Future[Any], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)
