"""``routeiq-sidecar bench``: load-test a running sidecar (loopback), print p50/p99/throughput."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from routeiq_sidecar.loadtest.loadgen import run_grpc, run_rest, with_candidates
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests
from routeiq_sidecar.tables import table

COLUMNS = (
    ("transport", "transport"),
    ("concurrency", "conc."),
    ("ok", "ok"),
    ("errors", "errors"),
    ("p50_ms", "p50 ms"),
    ("p99_ms", "p99 ms"),
    ("mean_ms", "mean ms"),
    ("server_p50_ms", "server p50 ms"),
    ("throughput_rps", "req/s"),
)


def bench_text(results: list[dict[str, Any]]) -> str:
    """One row per transport and concurrency level; the statuses of failed requests below."""
    text = table([h for _, h in COLUMNS], [[r.get(k) for k, _ in COLUMNS] for r in results])
    for r in results:
        bad = {k: v for k, v in r.get("statuses", {}).items() if k != "ok"}
        if bad:
            text += f"{r['transport']} x{r['concurrency']}: statuses {bad}\n"
    return text


def cmd_bench(args: argparse.Namespace) -> int:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(args.requests, args.seed)]
    levels = [int(x) for x in args.concurrency.split(",")]
    token = {"authorization": f"Bearer {args.token}"} if args.token else None
    md = (("authorization", f"Bearer {args.token}"),) if args.token else ()

    async def run() -> list[dict[str, Any]]:
        out = []
        for c in levels:
            if "rest" in args.transport:
                r = await run_rest(
                    args.http, bodies, concurrency=c, max_seconds=args.seconds, headers=token
                )
                out.append(r.summary())
            if "grpc" in args.transport:
                g = await run_grpc(
                    args.grpc, bodies, concurrency=c, max_seconds=args.seconds, metadata=md
                )
                out.append(g.summary())
        return out

    results = asyncio.run(run())
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        sys.stdout.write(bench_text(results))
    return 0 if all(r["errors"] == 0 for r in results) else 1


def register(sub: Any) -> None:
    p = sub.add_parser("bench", help="load-test a running sidecar (REST and gRPC)")
    p.add_argument("--http", default="http://127.0.0.1:8080", help="REST base URL")
    p.add_argument("--grpc", default="127.0.0.1:50051", help="gRPC target")
    p.add_argument("--transport", default="rest,grpc", help="rest, grpc or both")
    p.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    p.add_argument("--requests", type=int, default=500, help="requests per level and transport")
    p.add_argument("--seconds", type=float, default=60.0, help="time cap per level")
    p.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    p.add_argument("--token", default=None, help="bearer token, when the sidecar has one")
    p.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    p.set_defaults(fn=cmd_bench)
