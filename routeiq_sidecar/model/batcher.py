"""Dynamic micro-batching: concurrent prompts share one onnxruntime call, off the event loop.

Callers ``await embed(text)``. A single collector task takes the first waiting prompt, gathers
more for at most ``wait_us`` (or until ``max_batch``), tokenizes them together, splits them
into length groups so short prompts do not pad to long ones, and runs each group on one
worker thread. Results go back to each caller's future; a caller that was cancelled (deadline,
client gone) before its batch started is dropped; an error fails only its batch's callers.
An inline batcher with no wait (the static encoder) encodes each prompt on the spot instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from routeiq_sidecar.model.encoder import TextEncoder


@dataclass(frozen=True)
class Embedded:
    vector: np.ndarray
    tokenize_us: int
    embed_us: int
    queue_us: int
    batch_size: int


@dataclass
class _Job:
    text: str
    future: asyncio.Future[Embedded]
    enqueued_ns: int


def length_groups(lengths: list[int], max_waste: float = 0.5, small: int = 16) -> list[list[int]]:
    """Indices grouped (ascending length) so padding stays under ``max_waste`` of each group."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    cur: list[int] = []
    total = 0
    for i in order:
        n = lengths[i]
        if cur:
            padded = n * (len(cur) + 1)
            if n > small and padded > (1.0 + max_waste) * (total + n):
                groups.append(cur)
                cur, total = [], 0
        cur.append(i)
        total += n
    if cur:
        groups.append(cur)
    return groups


class Batcher:
    def __init__(
        self,
        encoder: TextEncoder,
        *,
        max_batch: int,
        wait_us: int,
        on_batch: Callable[[int], None] | None = None,
        inline: bool = False,
    ) -> None:
        self.encoder = encoder
        self.inline = inline  # encode on the event loop (a static lookup: cheaper than a hop)
        self.max_batch = max_batch
        self.wait_s = wait_us / 1e6
        self._queue: asyncio.Queue[_Job | None] | None = None  # None: stop after the queue
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routeiq-encoder")
        self._on_batch = on_batch

    def start(self) -> None:
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        """Finish the prompts already queued (a swapped-out batcher's callers must not hang)."""
        if self._task is not None and self._queue is not None:
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            while not self._queue.empty():  # queued after the stop marker
                job = self._queue.get_nowait()
                if job is not None and not job.future.done():
                    job.future.set_exception(RuntimeError("the encoder batcher was stopped"))
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def direct(self) -> bool:
        """Inline with no batching wait: each prompt is encoded on the spot (``embed_now``)."""
        return self.inline and self.wait_s <= 0

    def embed_now(self, text: str) -> Embedded:
        """One prompt encoded here, on the caller's thread (a static lookup: no queue and no
        task switch per prompt; concurrent prompts are encoded one by one)."""
        t0 = time.perf_counter_ns()
        ids, mask = self.encoder.tokenizer.encode([text])  # one row: no padding, no groups
        t1 = time.perf_counter_ns()
        vec = self.encoder.run(ids, mask)[0]
        tok_us, emb_us = (t1 - t0) // 1000, (time.perf_counter_ns() - t1) // 1000
        if self._on_batch:
            self._on_batch(1)
        return Embedded(vec, tok_us, emb_us, 0, 1)

    async def embed(self, text: str) -> Embedded:
        if self.direct:
            return self.embed_now(text)
        self.start()
        assert self._queue is not None
        fut: asyncio.Future[Embedded] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(text, fut, time.perf_counter_ns()))
        return await fut

    async def _collect(self) -> None:
        assert self._queue is not None
        q = self._queue
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await q.get()
            if first is None:
                return
            jobs = [first]
            deadline = loop.time() + self.wait_s
            while len(jobs) < self.max_batch:
                if not q.empty():
                    job = q.get_nowait()
                else:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(q.get(), remaining)
                    except TimeoutError:
                        break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            live = [j for j in jobs if not j.future.done()]
            if live:
                await self._run(live)

    async def _run(self, jobs: list[_Job]) -> None:
        start_ns = time.perf_counter_ns()
        loop = asyncio.get_running_loop()
        texts = [j.text for j in jobs]
        try:
            if self.inline:
                results = self._encode(texts)
            else:
                results = await loop.run_in_executor(self._pool, self._encode, texts)
        except Exception as exc:  # a model error fails this batch only
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        if self._on_batch:
            self._on_batch(len(jobs))
        for j, (vec, tok_us, emb_us) in zip(jobs, results, strict=True):
            if not j.future.done():
                queue_us = (start_ns - j.enqueued_ns) // 1000
                j.future.set_result(Embedded(vec, tok_us, emb_us, queue_us, len(jobs)))

    def _encode(self, texts: list[str]) -> list[tuple[np.ndarray, int, int]]:
        t0 = time.perf_counter_ns()
        ids, mask = self.encoder.tokenizer.encode(texts)
        tok_us = (time.perf_counter_ns() - t0) // 1000
        lengths = mask.sum(axis=1).tolist()
        out: list[tuple[np.ndarray, int, int]] = [(np.empty(0), 0, 0)] * len(texts)
        for group in length_groups(lengths):
            width = max(lengths[i] for i in group)
            t1 = time.perf_counter_ns()
            vecs = self.encoder.run(ids[group, :width], mask[group, :width])
            emb_us = (time.perf_counter_ns() - t1) // 1000
            for row, i in enumerate(group):
                out[i] = (vecs[row], tok_us, emb_us)
        return out
