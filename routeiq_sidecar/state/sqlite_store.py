"""Shared state in one SQLite file on local storage (``state_path``), for the workers of one
``serve --workers N`` when there is no Redis: a decision made by one worker takes feedback at
another, stickiness and learned statistics are the same in every worker.

The supervisor creates the file in its private temp folder (removed at exit), so the state lives
as long as the server, like the memory store's. Every table is bounded like the memory store's
maps: rows expire (``expires``, wall clock, shared by the processes) and the oldest rows beyond
the size limit go, pruned every ``PRUNE_EVERY`` writes. WAL mode, ``synchronous=OFF`` (the file is
scratch state: a power cut may lose the last writes, never corrupt it), a busy timeout for the
other workers' writes. Each store runs its queries on one thread of its own, off the event loop,
in batches: consecutive writes of concurrent requests share one transaction
(state/sqlite_queue.py), and no call returns before its write committed. Learned statistics
read for a decision are reused for ``STATS_READ_TTL_S`` (another worker's feedback shows within
a second; this worker's at once).

Failure: like Redis, a call that fails (disk full, locked past the timeout) answers "state
unavailable" (never an exception) and counts ``routeiq_state_errors_total{op}``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from routeiq_sidecar.state.sqlite_queue import QueryThread
from routeiq_sidecar.state.stats import ModelStat, updated
from routeiq_sidecar.state.store import FeedbackResult, Lookup, StateLimits

if TYPE_CHECKING:
    from routeiq_sidecar.telemetry.metrics import Metrics

log = logging.getLogger("routeiq.state")
T = TypeVar("T")

BUSY_TIMEOUT_S = 2.0
PRUNE_EVERY = 256
# A read of learned statistics is reused this long (seconds) for the same category and models:
# every decision reads them, and the query thread's round trip was most of the file's cost per
# decision. Another worker's feedback shows here within this time; this worker's at once.
STATS_READ_TTL_S = 1.0
STATS_READ_MEMO = 4096  # (category, models) reads kept; all dropped when full
# Every expiring table has an index on ``expires``: the prune deletes the expired rows through it
# instead of reading every row of the table. With the decision log full (100,000 rows) a decision
# written cost 68 us of CPU without the indexes and 26 us with them (bench/sqlite_state.py).
SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (id TEXT PRIMARY KEY, record TEXT NOT NULL,
                                      expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (id TEXT PRIMARY KEY, outcome TEXT NOT NULL,
                                     expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sticky (key TEXT PRIMARY KEY, candidate TEXT NOT NULL,
                                   expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, stat TEXT NOT NULL,
                                  expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (grp TEXT NOT NULL, name TEXT NOT NULL,
                                     value REAL NOT NULL, PRIMARY KEY (grp, name));
CREATE INDEX IF NOT EXISTS decisions_expires ON decisions (expires);
CREATE INDEX IF NOT EXISTS feedback_expires ON feedback (expires);
CREATE INDEX IF NOT EXISTS sticky_expires ON sticky (expires);
CREATE INDEX IF NOT EXISTS stats_expires ON stats (expires);
"""
UPSERT_COUNTER = (
    "INSERT INTO counters VALUES (?, ?, ?) "
    "ON CONFLICT (grp, name) DO UPDATE SET value = value + excluded.value"
)


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                         check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    return db


def transaction(db: sqlite3.Connection, fn: Callable[[], T]) -> T:
    """``fn`` inside BEGIN IMMEDIATE (the write lock first: read-modify-write is atomic across
    the workers); rolled back when it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        out = fn()
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return out


def create_schema(path: Path) -> None:
    """Create the file and its tables (the supervisor does it once, before the workers)."""
    db = connect(path)
    try:
        db.executescript(SCHEMA)
    finally:
        db.close()


class SQLiteStore:
    kind = "sqlite"

    def __init__(
        self,
        path: Path,
        limits: StateLimits,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.limits = limits
        self.metrics = metrics
        self._clock = clock
        create_schema(self.path)
        self._db = connect(self.path)
        self._thread = QueryThread(self._db)
        self._stats_read: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, ModelStat]]] = {}
        self._writes = 0
        self._sizes = {
            "decisions": limits.decision_log_size,
            "feedback": limits.decision_log_size,
            "sticky": limits.session_cache_size,
            "stats": limits.stats_max_entries,
        }

    # --- the guard every call goes through
    async def _call(
        self, op: str, fn: Callable[[sqlite3.Connection], T], *, write: bool = False
    ) -> tuple[bool, T | None]:
        """``write``: plain statements, no transaction of their own (grouped with others)."""
        try:
            value: T = await self._thread.submit(fn, write=write)
            return True, value
        except sqlite3.Error as exc:
            if self.metrics is not None:
                self.metrics.state_errors.labels(op).inc()
            log.warning("state: sqlite %s failed: %s", op, exc)
            return False, None

    def _wrote(self, db: sqlite3.Connection) -> None:
        """Every PRUNE_EVERY writes: drop expired rows, then the oldest beyond each bound."""
        self._writes += 1
        if self._writes % PRUNE_EVERY:
            return
        now = self._clock()
        for table, size in self._sizes.items():
            db.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))
            db.execute(
                f"DELETE FROM {table} WHERE rowid <= (SELECT max(rowid) FROM {table}) - ?",
                (size,),
            )

    # --- Store
    async def get_sticky(self, key: str) -> Lookup[str | None]:
        now = self._clock()

        def run(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT candidate FROM sticky WHERE key = ? AND expires > ?", (key, now)
            ).fetchone()
            return None if row is None else str(row[0])

        ok, value = await self._call("get_sticky", run)
        return Lookup(ok, value if ok else None)

    async def set_sticky(self, key: str, candidate_id: str) -> bool:
        expires = self._clock() + self.limits.sticky_ttl_s

        def run(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO sticky VALUES (?, ?, ?)",
                       (key, candidate_id, expires))
            self._wrote(db)

        ok, _ = await self._call("set_sticky", run, write=True)
        return ok

    async def record_decision(self, decision_id: str, record: dict[str, Any]) -> bool:
        body = json.dumps(record, separators=(",", ":"))
        expires = self._clock() + self.limits.decision_ttl_s

        def run(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?)",
                       (decision_id, body, expires))
            self._wrote(db)

        ok, _ = await self._call("record_decision", run, write=True)
        return ok

    async def record_feedback(self, decision_id: str, outcome: dict[str, Any]) -> FeedbackResult:
        now = self._clock()
        body = json.dumps(outcome, separators=(",", ":"))
        expires = now + self.limits.decision_ttl_s

        def step(db: sqlite3.Connection) -> tuple[int, str | None]:
            row = db.execute(
                "SELECT record FROM decisions WHERE id = ? AND expires > ?", (decision_id, now)
            ).fetchone()
            if row is None:
                return 0, None
            db.execute("DELETE FROM feedback WHERE id = ? AND expires <= ?", (decision_id, now))
            first = db.execute(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?)", (decision_id, body, expires)
            ).rowcount
            self._wrote(db)
            return (1 if first else 2), str(row[0])

        def run(db: sqlite3.Connection) -> tuple[int, str | None]:
            return transaction(db, lambda: step(db))

        ok, res = await self._call("record_feedback", run)
        if not ok or res is None:
            return FeedbackResult(found=False, duplicate=False, available=False)
        code, record = res
        if code == 0 or record is None:
            return FeedbackResult(found=False, duplicate=False)
        return FeedbackResult(found=True, duplicate=code == 2, record=json.loads(record))

    @staticmethod
    def _stats_key(category: str, model: str) -> str:
        return f"{category}\x1f{model}"

    async def read_stats(
        self, category: str, models: Sequence[str]
    ) -> Lookup[dict[str, ModelStat]]:
        now = self._clock()
        keys = {self._stats_key(category, m): m for m in models}

        def run(db: sqlite3.Connection) -> dict[str, ModelStat]:
            out: dict[str, ModelStat] = {}
            for key, model in keys.items():
                row = db.execute(
                    "SELECT stat FROM stats WHERE key = ? AND expires > ?", (key, now)
                ).fetchone()
                if row is not None:
                    out[model] = ModelStat(**json.loads(row[0]))
            return out

        memo = (category, tuple(models))
        mono = time.monotonic()
        hit = self._stats_read.get(memo)
        if hit is not None and mono - hit[0] < STATS_READ_TTL_S:
            return Lookup(True, dict(hit[1]))
        ok, value = await self._call("read_stats", run)
        if not ok or value is None:
            return Lookup(False, {})
        if len(self._stats_read) >= STATS_READ_MEMO:
            self._stats_read.clear()
        self._stats_read[memo] = (mono, value)
        return Lookup(True, dict(value))

    async def update_stats(
        self,
        category: str,
        model: str,
        reward: float,
        *,
        now: float,
        latency_ms: float = 0.0,
        cost_usd: float = 0.0,
    ) -> bool:
        key = self._stats_key(category, model)
        wall = self._clock()
        policy = self.limits.stats

        def step(db: sqlite3.Connection) -> None:
            row = db.execute(
                "SELECT stat FROM stats WHERE key = ? AND expires > ?", (key, wall)
            ).fetchone()
            prev = ModelStat(**json.loads(row[0])) if row is not None else None
            stat = updated(prev, reward, now, policy, latency_ms=latency_ms, cost_usd=cost_usd)
            db.execute("INSERT OR REPLACE INTO stats VALUES (?, ?, ?)",
                       (key, json.dumps(asdict(stat)), wall + policy.ttl_s))
            self._wrote(db)

        def run(db: sqlite3.Connection) -> None:
            transaction(db, lambda: step(db))  # read, update, write: atomic across the workers

        self._stats_read.clear()  # this worker sees its own feedback at once
        ok, _ = await self._call("update_stats", run)
        return ok

    async def incr_counters(self, group: str, deltas: Mapping[str, float]) -> bool:
        items = [(group, name, float(d)) for name, d in deltas.items()]

        def run(db: sqlite3.Connection) -> None:
            transaction(db, lambda: db.executemany(UPSERT_COUNTER, items))  # all or none

        ok, _ = await self._call("incr_counters", run)
        return ok

    async def read_counters(self, group: str) -> Lookup[dict[str, float]]:
        def run(db: sqlite3.Connection) -> dict[str, float]:
            rows = db.execute("SELECT name, value FROM counters WHERE grp = ?", (group,))
            return {str(n): float(v) for n, v in rows}

        ok, value = await self._call("read_counters", run)
        return Lookup(ok, value if ok and value is not None else {})

    async def close(self) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.close()

        await self._call("close", run)
        self._thread.shutdown()
