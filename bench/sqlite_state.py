"""What the SQLite state store (``serve --workers N`` without Redis) costs per decision written,
with the decision log full (``decision_log_size`` rows, as on any worker that has served a
while), measured in one run with and without the indexes on ``expires`` that the prune
searches (``--without-index`` is what the schema was before them).

    .venv/bin/python bench/sqlite_state.py [--rows 100000] [--writes 20000] [--repeat 3]
        [--json OUT]

Each configuration: a fresh file, the log filled to ``--rows`` decisions of a realistic record
(the keys of the engine's decision record, ~330 bytes as JSON), then
``--writes`` more decisions through the store as the engine writes them: 64 concurrent
``record_decision`` calls at a time (so consecutive writes share a transaction, as under load),
the prune every ``PRUNE_EVERY`` writes included. Reported: the process CPU per decision written
(the query thread's work, the event loop's share, the prune), median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeiq_sidecar.state.sqlite_store import SQLiteStore  # noqa: E402
from routeiq_sidecar.state.stats import StatsPolicy  # noqa: E402
from routeiq_sidecar.state.store import StateLimits  # noqa: E402

RECORD: dict[str, Any] = {  # the keys of engine/state_io.py's decision_record, typical values
    "selected_id": "gpt-4o-mini", "selected_model": "openai/gpt-4o-mini",
    "predicted_quality": 0.8731, "strategy": "difficulty", "profile": "auto",
    "category": "coding", "complexity": "medium", "session_id": "", "user_id": "",
    "sticky": False, "learned": False, "experiment": "", "arm": "", "shadow_strategy": "",
    "shadow_selected_id": "", "created": 1_790_000_000.0,
}
CONCURRENT = 64


def limits(rows: int) -> StateLimits:
    return StateLimits(decision_ttl_s=3600, decision_log_size=rows, sticky_ttl_s=1800,
                       session_cache_size=rows, stats=StatsPolicy.from_window(20, 3600, 600))


async def one_run(rows: int, writes: int, index: bool) -> float:
    """CPU microseconds per decision written, the log full beforehand."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "state.sqlite3"
        store = SQLiteStore(path, limits(rows))
        try:
            with sqlite3.connect(path) as db:
                if not index:
                    for table in ("decisions", "feedback", "sticky", "stats"):
                        db.execute(f"DROP INDEX IF EXISTS {table}_expires")
                body = json.dumps(RECORD, separators=(",", ":"))
                expires = time.time() + 3600
                db.executemany("INSERT INTO decisions VALUES (?, ?, ?)",
                               ((f"fill{i}", body, expires) for i in range(rows)))
            t0 = time.process_time()
            for start in range(0, writes, CONCURRENT):
                await asyncio.gather(*(store.record_decision(os.urandom(16).hex(), RECORD)
                                       for _ in range(min(CONCURRENT, writes - start))))
            return (time.process_time() - t0) / writes * 1e6
        finally:
            await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="the log's bound (decision_log_size)")
    ap.add_argument("--writes", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    out: dict[str, list[float]] = {"with_index": [], "without_index": []}
    for _ in range(args.repeat):  # alternated, so both see the same machine
        for key, index in (("without_index", False), ("with_index", True)):
            out[key].append(await one_run(args.rows, args.writes, index))
    med = {k: statistics.median(v) for k, v in out.items()}
    print(f"SQLite state store, decision log full ({args.rows:,} rows), {args.writes:,} writes "
          f"{CONCURRENT} at a time, load {os.getloadavg()[0]:.2f}:")
    for k, v in out.items():
        print(f"  {k.replace('_', ' ')}: CPU per decision written, median {med[k]:.1f} us "
              f"(runs: {', '.join(f'{x:.1f}' for x in v)})")
    print(f"  ratio without / with: {med['without_index'] / med['with_index']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(["bench/sqlite_state.py",
                                                              *sys.argv[1:]]),
                                         "runs_us": out, "median_us": med,
                                         "load_avg": os.getloadavg()}, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
