"""Concurrent predictions of one strategy share one call.

A strategy with ``predict_many`` (a list of inputs in, a list of estimates out, in order:
`difficulty`, whose kNN scan of every stored prompt costs much the same for 16 queries as for
a few) is called through a ``Coalescer``: the first caller starts a run; the callers that reach
it in the same turn of the event loop, or while a run is in a worker thread, go together in the
next run, at most ``max_batch`` at a time. Nothing waits for company: an idle server runs each
prediction at once, a busy one batches exactly what queued. A caller cancelled before its run
starts is dropped; an error fails only the callers of its run.

Where a run is small and bounded (at most ``inline_max`` inputs, for a strategy that says its
batches are cheap: a kNN scan of a few MB, 0.1-0.25 ms per query) it runs on the event loop:
the hop to a worker thread and back cost more than the scan (0.2-0.45 ms of CPU and latency per
decision, measured in docs/benchmarks.md), and the loop is held no longer than its own
per-request Python holds it. Larger runs, and every run when ``inline_max`` is 0, go to a
worker thread, so the loop never waits on a long computation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Coalescer(Generic[In, Out]):
    def __init__(self, fn: Callable[[Sequence[In]], Sequence[Out]], max_batch: int = 32,
                 inline_max: int = 0) -> None:
        self._fn = fn
        self.max_batch = max(1, int(max_batch))
        self.inline_max = max(0, int(inline_max))
        self.inline_runs = self.thread_runs = 0  # for tests and benchmarks
        self._waiting: list[tuple[In, asyncio.Future[Out]]] = []
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps weak refs only

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
                items = [i for i, _ in take]
                try:
                    if len(take) <= self.inline_max:
                        self.inline_runs += 1
                        out = self._fn(items)
                    else:
                        self.thread_runs += 1
                        out = await loop.run_in_executor(None, self._fn, items)
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
