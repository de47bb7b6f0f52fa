"""Concurrent predictions of one strategy share one call, off the event loop.

A strategy with ``predict_many`` (a list of inputs in, a list of estimates out, in order:
`difficulty`, whose kNN scan of every stored prompt costs much the same for 16 queries as for
a few) is called through a ``Coalescer``: the first caller starts a run in a worker thread;
callers arriving while it runs wait together and go in the next run, at most ``max_batch``
at a time. Nothing waits for company: an idle server runs each prediction at once, a busy
one batches exactly what queued behind the running call. A caller cancelled before its run
starts is dropped; an error fails only the callers of its run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Coalescer(Generic[In, Out]):
    def __init__(self, fn: Callable[[Sequence[In]], Sequence[Out]], max_batch: int = 32) -> None:
        self._fn = fn
        self.max_batch = max(1, int(max_batch))
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
                try:
                    out = await loop.run_in_executor(None, self._fn, [i for i, _ in take])
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
