"""The REST layer's own cost per ``POST /v1/route``, in process: the ASGI app the server runs
(api/rest.py: middleware, Starlette's routing, body read, JSON in and out, the pipeline) driven
without sockets or uvicorn, sequentially, on the latency benchmark's 300 mixed requests.

    .venv/bin/python bench/rest_path.py [--rounds 5] [--home DIR] [--json PATH]

Three rows per round, each the CPU time of the process per call (and the wall p50/p99):
``route, engine canned``: the whole app, with ``Engine.route`` answering one decision made
beforehand (so the figure is the REST layer alone); ``route``: the app with the real engine
(static tier, no embedding cache); ``healthz``: ``GET /healthz`` through the same app, the
floor of any call. Prints the medians over the rounds. Run it in two checkouts to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_path import bench_engine  # noqa: E402

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb  # noqa: E402
from routeiq_sidecar.api.convert import parse_json, route_in  # noqa: E402
from routeiq_sidecar.api.pipeline import Pipeline  # noqa: E402
from routeiq_sidecar.api.rest import build_rest_app  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests  # noqa: E402

Call = Callable[[bytes], Awaitable[None]]


def asgi_caller(app: Any, method: str, path: str) -> Call:
    """One HTTP/1.1 request through ``app``, its whole body in one message; checks the 200."""

    async def call(body: bytes) -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)  # a client that stays connected
            raise AssertionError("unreachable")

        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        headers = [(b"host", b"127.0.0.1:8080")]
        if body:
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": b"", "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080)}
        await app(scope, receive, send)
        if status != [200]:
            raise RuntimeError(f"{method} {path} answered {status}")

    return call


async def measure(call: Call, bodies: list[bytes]) -> dict[str, float]:
    wall = []
    c0 = time.process_time()
    for body in bodies:
        t = time.perf_counter()
        await call(body)
        wall.append((time.perf_counter() - t) * 1e6)
    cpu = (time.process_time() - c0) / len(bodies) * 1e6
    wall.sort()
    return {"cpu_us": cpu, "p50_us": wall[len(wall) // 2], "p99_us": wall[int(len(wall) * 0.99)]}


def layer_args(doc: str | None) -> argparse.Namespace:
    """The options of bench/rest_path.py and bench/grpc_path.py."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    return ap.parse_args()


def with_canned(engine: Any, canned: Any, call: Call) -> Call:
    """``call`` with ``engine.route`` answering ``canned`` (the layer around the engine alone)."""

    async def answer_canned(inp: Any) -> Any:
        return canned

    async def call_canned(body: bytes) -> None:
        real = engine.route
        engine.route = answer_canned
        try:
            await call(body)
        finally:
            engine.route = real

    return call_canned


async def run_rounds(calls: list[tuple[str, Call]], bodies: list[bytes], rounds: int,
                     what: str, json_path: Path | None) -> None:
    """Each call warmed on 30 bodies, then ``rounds`` rounds of every call on all ``bodies``;
    prints each round and the medians (and writes them to ``json_path``)."""
    for _, call in calls:
        await measure(call, bodies[:30])
    rows: dict[str, list[dict[str, float]]] = {}
    print(f"load {os.getloadavg()[0]:.2f}, {what}, {len(bodies)} calls per row per round")
    for r in range(rounds):
        for name, call in calls:
            m = await measure(call, bodies)
            rows.setdefault(name, []).append(m)
            print(f"  round {r + 1} {name}: cpu {m['cpu_us']:.0f} us/call, "
                  f"p50 {m['p50_us']:.0f} us, p99 {m['p99_us']:.0f} us")
    summary = {name: {k: statistics.median(m[k] for m in ms) for k in ms[0]}
               for name, ms in rows.items()}
    for name, m in summary.items():
        print(f"median {name}: cpu {m['cpu_us']:.1f} us/call, p50 {m['p50_us']:.1f} us, "
              f"p99 {m['p99_us']:.1f} us")
    print(f"load {os.getloadavg()[0]:.2f} at the end")
    if json_path is not None:
        json_path.write_text(json.dumps({"rounds": rows, "median": summary}, indent=1))


async def main() -> None:
    args = layer_args(__doc__)
    engine = bench_engine("static", args.home)
    app = build_rest_app(Pipeline(engine))
    bodies = [json.dumps(with_candidates(b, CANDIDATES)).encode()
              for b in mixed_requests(300, seed=1)]
    route, health = asgi_caller(app, "POST", "/v1/route"), asgi_caller(app, "GET", "/healthz")
    canned = await engine.route(route_in(parse_json(bodies[0], pb.RouteRequest()), "canned"))
    route_canned = with_canned(engine, canned, route)
    try:
        await engine.warm_up()
        await run_rounds([("route, engine canned", route_canned), ("route", route),
                          ("healthz", health)], bodies, args.rounds, "static tier", args.json)
    finally:
        await engine.close()


if __name__ == "__main__":
    asyncio.run(main())
