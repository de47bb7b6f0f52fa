"""The SQLite store's query thread: consecutive writes share one transaction, a failing write
fails only itself, order is kept, and concurrent callers all get their own answer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routeiq_sidecar.state.sqlite_queue import Job, QueryThread, run_jobs
from routeiq_sidecar.state.sqlite_store import connect


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "q.sqlite3")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    yield conn
    conn.close()


def insert(k: str, v: int | None) -> Any:
    def fn(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO t VALUES (?, ?)", (k, v))
        return k

    return fn


def count(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM t").fetchone()[0])


def jobs(*specs: tuple[Any, bool]) -> list[Job]:
    loop = asyncio.new_event_loop()
    try:
        return [Job(fn, write, loop.create_future()) for fn, write in specs]
    finally:
        loop.close()


def test_a_run_of_writes_is_one_transaction(db: sqlite3.Connection) -> None:
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    out = run_jobs(db, jobs(*[(insert(f"k{i}", i), True) for i in range(50)]))
    assert out == [(True, f"k{i}") for i in range(50)]
    assert statements.count("BEGIN IMMEDIATE") == 1
    assert statements.count("COMMIT") == 1
    assert count(db) == 50


def test_a_failing_write_fails_alone_and_the_others_commit(db: sqlite3.Connection) -> None:
    out = run_jobs(
        db, jobs((insert("a", 1), True), (insert("b", None), True), (insert("c", 3), True))
    )
    assert [ok for ok, _ in out] == [True, False, True]
    assert isinstance(out[1][1], sqlite3.IntegrityError)  # NOT NULL
    assert sorted(r[0] for r in db.execute("SELECT k FROM t")) == ["a", "c"]
    assert not db.in_transaction


def test_reads_and_own_transactions_run_between_groups_in_order(db: sqlite3.Connection) -> None:
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    out = run_jobs(
        db,
        jobs(
            (insert("a", 1), True),
            (insert("b", 2), True),
            (count, False),  # sees both writes
            (insert("c", 3), True),
            (count, False),
        ),
    )
    assert [v for _, v in out] == ["a", "b", 2, "c", 3]
    assert statements.count("BEGIN IMMEDIATE") == 1  # a lone write needs no BEGIN of its own


async def test_concurrent_callers_each_get_their_answer(db: sqlite3.Connection) -> None:
    thread = QueryThread(db)
    try:
        got = await asyncio.gather(
            *(thread.submit(insert(f"k{i}", None if i == 7 else i), write=True)
              for i in range(40)),
            return_exceptions=True,
        )
        assert [g for i, g in enumerate(got) if i != 7] == [f"k{i}" for i in range(40) if i != 7]
        assert isinstance(got[7], sqlite3.IntegrityError)
        assert await thread.submit(count) == 39
        # the thread goes idle and starts again on the next call
        assert await thread.submit(insert("late", 1), write=True) == "late"
    finally:
        thread.shutdown()


def test_a_lock_held_elsewhere_fails_the_group_once(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    db = connect(path)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    db.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another worker holding the write lock
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    try:
        out = run_jobs(db, jobs(*[(insert(f"k{i}", i), True) for i in range(5)]))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert all(not ok and isinstance(e, sqlite3.OperationalError) for ok, e in out)
    assert statements == ["BEGIN IMMEDIATE"]  # no retry one by one, each waiting again
    assert count(db) == 0
    db.close()
