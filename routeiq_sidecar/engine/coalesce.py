"""Concurrent predictions of one strategy share one call, off the event loop.

A strategy with ``predict_many`` (a list of inputs in, a list of estimates out, in order:
`difficulty`, whose kNN scan of every stored prompt costs much the same for 16 queries as for
a few) is called through a ``Coalescer``: the first caller starts a run in the coalescer's
own worker thread; callers arriving while it runs wait together and go in the next run, at
most ``max_batch`` at a time. Nothing waits for company: an idle server runs each prediction
at once, a busy one batches exactly what queued behind the running call. A caller cancelled
before its run starts is dropped; an error fails only the callers of its run.

The thread takes runs from a plain queue and hands each result back with one
``call_soon_threadsafe`` (cheaper per run than ``run_in_executor``'s futures and locks; under
load a run is often one or two predictions); it ends when the coalescer is collected (a
reload's old strategies).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Coalescer(Generic[In, Out]):
    def __init__(self, fn: Callable[[Sequence[In]], Sequence[Out]], max_batch: int = 32,
                 on_run: Callable[[int], None] | None = None) -> None:
        self._fn = fn
        self.max_batch = max(1, int(max_batch))
        self._on_run = on_run  # told each run's size (the routeiq_predict_batch_size metric)
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps weak refs only
        self._runs: queue.SimpleQueue[_Run | None] | None = None  # the thread's; None: no thread

    def _thread_queue(self) -> queue.SimpleQueue[_Run | None]:
        if self._runs is None:
            runs: queue.SimpleQueue[_Run | None] = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(runs,), name="routeiq-predict",
                             daemon=True).start()
            weakref.finalize(self, runs.put, None)  # the thread ends with the coalescer
            self._runs = runs
        return self._runs

    async def __call__(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Out] = loop.create_future()
        self._waiting.append((item, fut))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
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
                    self._thread_queue().put((self._fn, [i for i, _ in take], loop, done))
                    out = await done
                    if len(out) != len(take):
                        raise RuntimeError(f"predict_many gave {len(out)} answers for "
                                           f"{len(take)} inputs")
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
