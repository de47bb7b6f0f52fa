"""The gRPC layer's own cost per ``RouterService/Route``, in process: what the server runs for a
call once grpc.aio has its bytes (api/grpc.py: the lenient parser, the servicer with its
metadata, drain guard and pipeline, the proto conversions both ways, the serializer), driven
sequentially on the latency benchmark's 300 mixed requests, without grpc's own machinery.

    .venv/bin/python bench/grpc_path.py [--rounds 5] [--home DIR] [--json PATH]

grpc.aio's servicer context cannot be built outside a live call, so a small stand-in
(``Context``) answers the four things the servicer asks of it (metadata, trailers, time left,
abort); grpc's own per-call cost is measured over the wire by bench/grpc_h2load.py (its health
check floor). Two rows per round, each the process's CPU time per call (and the wall p50/p99):
``Route, engine canned``: ``Engine.route`` answers one decision made beforehand, so the figure
is the gRPC layer alone; ``Route``: the real engine (static tier, no embedding cache). Prints the
medians over the rounds. Run it in two checkouts to compare them.
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
from google.protobuf import json_format  # noqa: E402

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb  # noqa: E402
from routeiq_sidecar.api.convert import route_in  # noqa: E402
from routeiq_sidecar.api.grpc import RouterServicer, lenient_parser  # noqa: E402
from routeiq_sidecar.api.pipeline import Pipeline  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests  # noqa: E402

Call = Callable[[bytes], Awaitable[None]]


class Context:
    """What the servicer asks of grpc.aio's context, as a call without metadata has it."""

    def __init__(self) -> None:
        self.trailers: tuple[tuple[str, str], ...] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("user-agent", "grpc-go/1.72.0"),)  # what a Go gateway sends, nothing ours

    def set_trailing_metadata(self, md: tuple[tuple[str, str], ...]) -> None:
        self.trailers = md

    def time_remaining(self) -> float | None:
        return None

    async def abort(self, code: Any, details: str) -> None:
        raise RuntimeError(f"the call was refused: {code} {details}")


def route_caller(servicer: RouterServicer) -> Call:
    parse = lenient_parser(pb.RouteRequest)

    async def call(raw: bytes) -> None:
        out = await servicer.Route(parse(raw), Context())
        if not out.SerializeToString():
            raise RuntimeError("empty answer")

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


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    engine = bench_engine("static", args.home)
    route = route_caller(RouterServicer(Pipeline(engine)))
    bodies = [json_format.ParseDict(with_candidates(b, CANDIDATES), pb.RouteRequest())
              .SerializeToString() for b in mixed_requests(300, seed=1)]
    real = engine.route
    first = pb.RouteRequest.FromString(bodies[0])
    canned = await real(route_in(first, "canned"))

    async def answer_canned(inp: Any) -> Any:
        return canned

    async def route_canned(raw: bytes) -> None:
        engine.route = answer_canned  # type: ignore[method-assign]
        try:
            await route(raw)
        finally:
            engine.route = real  # type: ignore[method-assign]

    try:
        await engine.warm_up()
        for call in (route_canned, route):
            await measure(call, bodies[:30])
        rows: dict[str, list[dict[str, float]]] = {}
        print(f"load {os.getloadavg()[0]:.2f}, static tier, {len(bodies)} calls per row per round")
        for r in range(args.rounds):
            for name, call in (("Route, engine canned", route_canned), ("Route", route)):
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
        if args.json is not None:
            args.json.write_text(json.dumps({"rounds": rows, "median": summary}, indent=1))
    finally:
        await engine.close()


if __name__ == "__main__":
    asyncio.run(main())
