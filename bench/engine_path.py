"""One decision's server-side cost without a transport: the engine (``Engine.route``) in process,
on the latency benchmark's 300 mixed requests, sequentially, and the default strategy's kNN scan
alone (warm and with the CPU caches flushed between calls, as between requests in a server;
and per query in batches of 1, 8 and 32, as the coalescer batches it under load).

    .venv/bin/python bench/engine_path.py [--encoder static] [--rounds 5] [--home DIR]
        [--agreement ../shared/data/routerdc_7models.jsonl [--shortlists 128,64,48,32]]

Prints, per round, the median and p99 wall time of ``Engine.route`` and the process CPU per
decision, the medians of the answers' ``timings``, the kNN figures, and the thread hop (an
empty prediction's round trip through the worker thread that keeps the kNN off the loop).
``--agreement FILE`` also embeds 2,000 prompts of an outcome file (seed 0) and compares the
head's int8 neighbour scan with a float32 full scan (strategies/scan.py): neighbour
similarities and sets, kNN estimates; ``--shortlists`` the same for other shortlist sizes, with
each one's time per query alone and in runs of three.
Profile it with ``py-spy record -o out.svg -- .venv/bin/python bench/engine_path.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb  # noqa: E402
from routeiq_sidecar.api.convert import parse_json, route_in  # noqa: E402
from routeiq_sidecar.app import load_from_settings  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.engine.catalogue import Catalogue  # noqa: E402
from routeiq_sidecar.engine.coalesce import Coalescer  # noqa: E402
from routeiq_sidecar.engine.engine import Engine  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests  # noqa: E402
from routeiq_sidecar.strategies.difficulty import DifficultyStrategy  # noqa: E402
from routeiq_sidecar.strategies.scan import NeighbourScan  # noqa: E402

FLUSH_MB = 32  # more than the last-level cache share a request sees on a busy host


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


async def decisions(engine: Engine, inputs: list[Any], rounds: int) -> list[dict[str, float]]:
    out = []
    for _ in range(rounds):
        wall: list[float] = []
        keep: dict[str, list[int]] = {}
        c0 = time.process_time()
        for inp in inputs:
            t = time.perf_counter()
            d = await engine.route(inp)
            wall.append((time.perf_counter() - t) * 1e3)
            for k in ("tokenize_us", "embed_us", "classify_us", "total_us"):
                keep.setdefault(k, []).append(int(getattr(d.timings, k, 0)))
        cpu = (time.process_time() - c0) / len(inputs) * 1e3
        out.append({"p50_ms": pct(wall, 50), "p99_ms": pct(wall, 99), "cpu_ms": cpu,
                    **{k: statistics.median(v) for k, v in keep.items()}})
    return out


def knn_scan(engine: Engine, vecs: np.ndarray, flush: bool) -> dict[str, float]:
    strategy = engine.loaded.strategies.get("difficulty")
    if not isinstance(strategy, DifficultyStrategy):
        return {}
    head = strategy.head
    junk = np.ones(FLUSH_MB * 2**20 // 8)
    times = []
    for v in vecs:
        if flush:
            junk += 1.0
        t = time.perf_counter()
        head.knn(v[None, :])
        times.append((time.perf_counter() - t) * 1e6)
    return {"p50_us": pct(times, 50), "p99_us": pct(times, 99)}


def knn_batches(engine: Engine, vecs: np.ndarray, sizes: tuple[int, ...] = (1, 8, 32),
                reps: int = 200) -> dict[int, float]:
    """The kNN of a batch of queries (what engine/coalesce.py hands the worker thread when
    decisions queue behind a running scan), warm: p50 per query, in us, by batch size."""
    strategy = engine.loaded.strategies.get("difficulty")
    if not isinstance(strategy, DifficultyStrategy):
        return {}
    head, out = strategy.head, {}
    for b in sizes:
        times = []
        for r in range(reps):
            batch = np.roll(vecs, -r * b, axis=0)[:b]
            t = time.perf_counter()
            head.knn(batch)
            times.append((time.perf_counter() - t) * 1e6 / b)
        out[b] = pct(times, 50)
    return out


async def thread_hop(n: int = 2000) -> dict[str, float]:
    """Round trip of a prediction that does nothing through engine/coalesce.py's worker thread:
    what a decision pays to keep its kNN scan off the event loop (wake the thread, wake the
    loop), one call at a time as at concurrency 1."""
    co: Coalescer[int, int] = Coalescer(lambda items: list(items))
    times = []
    for i in range(n):
        t = time.perf_counter()
        await co(i)
        times.append((time.perf_counter() - t) * 1e6)
    times = times[n // 10 :]  # the thread's start and first wake-ups
    return {"p50_us": pct(times, 50), "p99_us": pct(times, 99)}


def agreement(engine: Engine, path: Path, n: int = 2000,
              shortlists: tuple[int, ...] = ()) -> None:
    """The head's int8 scan against a float32 full scan on ``n`` prompts of ``path``; with
    ``shortlists``, the same for scans re-scoring that many rows, with their time per query."""
    import json

    strategy = engine.loaded.strategies.get("difficulty")
    assert isinstance(strategy, DifficultyStrategy)
    head = strategy.head
    with path.open() as f:
        prompts = [json.loads(line)["prompt"] for line in f if line.strip()]
    pick = np.random.default_rng(0).choice(len(prompts), min(n, len(prompts)), replace=False)
    enc = engine.loaded.bundle.encoder
    q = np.concatenate([enc.encode([prompts[i] for i in pick[j : j + 64]]).vectors
                        for j in range(0, len(pick), 64)])
    shipped = head.scan
    head.scan = NeighbourScan(head.embeddings, exact=True)
    slow = head.knn(q)
    full_idx, full_sims = head.scan.top(q, head.k)
    b = -np.sort(-full_sims, axis=1)
    for c in (None, *shortlists):
        head.scan = shipped if c is None else NeighbourScan(head.embeddings, candidates=c)
        idx, sims = head.scan.top(q, head.k)
        a = -np.sort(-sims, axis=1)
        d = np.abs(head.knn(q) - slow)
        print(f"  agreement on {len(q)} prompts of {path.name}, shortlist of "
              f"{head.scan.candidates} rows{' (shipped)' if c is None else ''}: the {head.k} "
              f"neighbours' similarities differ (> 1e-5) for "
              f"{(np.abs(a - b).max(axis=1) > 1e-5).mean():.4f}, the neighbour sets for "
              f"{(np.sort(idx, axis=1) != np.sort(full_idx, axis=1)).any(axis=1).mean():.4f}; "
              f"kNN estimate differs > 1e-6 for {(d > 1e-6).mean():.4f}, > 1e-3 for "
              f"{(d > 1e-3).mean():.4f} (max {d.max():.1e})")
        if c is not None:
            times = {}
            for size in (1, 3):
                t0 = time.perf_counter()
                for i in range(0, 600, size):
                    head.neighbours(q[i : i + size])
                times[size] = (time.perf_counter() - t0) / 600 * 1e6
            print(f"    per query: {times[1]:.0f} us alone, {times[3]:.0f} us in runs of three")
    head.scan = shipped


def bench_engine(encoder: str, home: Path | None) -> Engine:
    """The engine a server would build, in process: int8, no embedding cache, no decision log
    lines, no catalogue (bench/rest_path.py uses it too)."""
    os.environ.update({"ROUTEIQ_ENCODER": encoder, "ROUTEIQ_EMBED_CACHE_SIZE": "0",
                       "ROUTEIQ_LOG_DECISIONS": "false", "ROUTEIQ_ENCODER_PRECISION": "int8"})
    if home is not None:
        os.environ["ROUTEIQ_HOME"] = str(home)
    s = load_settings()
    bundle, strategies = load_from_settings(s)
    return Engine(s, bundle, Catalogue.empty(), strategies=strategies)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--encoder", default="static", choices=["static", "minilm"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--agreement", type=Path, default=None, help="an outcome file (jsonl)")
    ap.add_argument("--shortlists", default="", help="with --agreement: also scans re-scoring "
                    "these numbers of rows, e.g. 128,64,48,32, timed per query")
    args = ap.parse_args()
    engine = bench_engine(args.encoder, args.home)
    try:
        bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(args.requests, seed=1)]
        inputs = [route_in(parse_json(json_bytes(b), pb.RouteRequest()), f"r{i}")
                  for i, b in enumerate(bodies)]
        await engine.warm_up()
        await decisions(engine, inputs[:20], 1)
        print(f"load {os.getloadavg()[0]:.2f}, {args.encoder}, {len(inputs)} decisions per round")
        for r in await decisions(engine, inputs, args.rounds):
            print("  route p50 {p50_ms:.3f} ms p99 {p99_ms:.3f} ms, cpu {cpu_ms:.3f} ms/decision; "
                  "timings median: tokenize {tokenize_us} us, embed {embed_us} us, classify "
                  "{classify_us} us, total {total_us} us".format(**r))
        texts = [b.get("prompt") or b["messages"][-1]["content"] for b in bodies[:100]]
        vecs = np.stack([(await engine.embedder.embed(engine.loaded, t))[0] for t in texts])
        for flush in (False, True):
            k = knn_scan(engine, vecs, flush)
            if k:
                print(f"  difficulty kNN ({'caches flushed' if flush else 'warm'}): "
                      f"p50 {k['p50_us']:.0f} us, p99 {k['p99_us']:.0f} us")
        per_query = knn_batches(engine, vecs)
        if per_query:
            print("  difficulty kNN by batch size (warm), p50 per query: " + ", ".join(
                f"{b}: {us:.0f} us" for b, us in per_query.items()))
        hop = await thread_hop()
        print(f"  thread hop (an empty prediction through a Coalescer, the kNN's path off the "
              f"loop): p50 {hop['p50_us']:.0f} us, p99 {hop['p99_us']:.0f} us")
        if args.agreement is not None:
            agreement(engine, args.agreement, shortlists=tuple(
                int(c) for c in args.shortlists.split(",") if c.strip()))
        print(f"load {os.getloadavg()[0]:.2f} at the end")
    finally:
        await engine.close()


def json_bytes(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode()


if __name__ == "__main__":
    asyncio.run(main())
