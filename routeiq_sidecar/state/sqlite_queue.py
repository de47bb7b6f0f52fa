"""The SQLite store's one query thread, fed in batches (group commit).

Every call of the store is a job: a function of the connection. Jobs queue up on the event
loop; one thread runs everything queued so far in order, then settles all their futures with
one callback on the loop. A run of consecutive plain writes (``write=True``: one statement or a
few, no transaction of their own) shares one ``BEGIN IMMEDIATE ... COMMIT``, so under load a
hundred decisions cost one lock, one WAL commit and two thread handoffs instead of a hundred of
each. Nothing is acknowledged before its transaction committed: a caller's ``await`` returns
after its row is in the file, as before. Jobs that take the write lock themselves
(read-modify-write) and reads run on their own, between the groups, in submission order.

A group whose transaction fails is rolled back and its jobs are run again one by one, so one bad
write fails only itself, with its own ``sqlite3.Error``; a write lock not obtained within the
busy timeout fails the whole group at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

Outcome = tuple[bool, Any]  # (True, value) or (False, the exception it raised)


@dataclass
class Job:
    fn: Callable[[sqlite3.Connection], Any]
    write: bool
    future: asyncio.Future[Any]


def _settle(jobs: list[Job], outcomes: list[Outcome]) -> None:
    for job, (ok, value) in zip(jobs, outcomes, strict=True):
        if job.future.done():  # its caller was cancelled
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


def _one(db: sqlite3.Connection, job: Job) -> Outcome:
    try:
        return True, job.fn(db)
    except Exception as exc:
        return False, exc


def _group(db: sqlite3.Connection, jobs: list[Job]) -> list[Outcome]:
    """Consecutive plain writes in one transaction. No write lock within the busy timeout:
    every job fails with that error (not retried one by one, each waiting as long again).
    A job that fails inside: rolled back, and the jobs run one by one instead."""
    if len(jobs) == 1:
        return [_one(db, jobs[0])]
    try:
        db.execute("BEGIN IMMEDIATE")
    except Exception as exc:
        return [(False, exc)] * len(jobs)
    try:
        values = [job.fn(db) for job in jobs]
        db.execute("COMMIT")
    except Exception:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        return [_one(db, job) for job in jobs]
    return [(True, v) for v in values]


def run_jobs(db: sqlite3.Connection, jobs: list[Job]) -> list[Outcome]:
    out: list[Outcome] = []
    i = 0
    while i < len(jobs):
        j = i + 1
        if jobs[i].write:
            while j < len(jobs) and jobs[j].write:
                j += 1
            out.extend(_group(db, jobs[i:j]))
        else:
            out.append(_one(db, jobs[i]))
        i = j
    return out


class QueryThread:
    """``await submit(fn, write=...)``: ``fn(db)`` on the thread, batched with its neighbours."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routeiq-sqlite")
        self._lock = threading.Lock()
        self._queue: list[Job] = []
        self._running = False  # a drain is scheduled or running on the thread

    async def submit(self, fn: Callable[[sqlite3.Connection], Any], *, write: bool = False) -> Any:
        job = Job(fn, write, asyncio.get_running_loop().create_future())
        with self._lock:
            self._queue.append(job)
            start = not self._running
            self._running = True
        if start:
            self._pool.submit(self._drain)
        return await job.future

    def _drain(self) -> None:
        while True:
            with self._lock:
                jobs, self._queue = self._queue, []
                if not jobs:
                    self._running = False
                    return
            try:
                outcomes = run_jobs(self._db, jobs)
            except BaseException as exc:  # never strand the callers (run_jobs catches Exception)
                outcomes = [(False, exc)] * len(jobs)
            by_loop: dict[asyncio.AbstractEventLoop, tuple[list[Job], list[Outcome]]] = {}
            for job, outcome in zip(jobs, outcomes, strict=True):
                mine = by_loop.setdefault(job.future.get_loop(), ([], []))
                mine[0].append(job)
                mine[1].append(outcome)
            for loop, (js, outs) in by_loop.items():  # each future on its own loop
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                    loop.call_soon_threadsafe(_settle, js, outs)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False)
