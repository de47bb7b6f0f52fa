"""The gRPC layer's own cost per ``RouterService/Route``, in process: what the server runs for a
call once grpc.aio has its bytes (api/grpc.py: the lenient parser, the servicer with its
metadata, drain guard and pipeline, the proto conversions both ways, the serializer), driven
sequentially on the latency benchmark's 300 mixed requests, without grpc's own machinery.

    .venv/bin/python bench/grpc_path.py [--rounds 5] [--home DIR] [--json PATH]

grpc.aio's servicer context cannot be built outside a live call, so a small stand-in
(``Context``) answers the four things the servicer asks of it (metadata, trailers, time left,
abort); grpc's own per-call cost is measured over the wire by bench/grpc_h2load.py (its health
check floor). Four rows per round, each the process's CPU time per call (and the wall p50/p99):
``Route, engine canned``: ``Engine.route`` answers one decision made beforehand, so the figure
is the gRPC layer alone; ``Route``: the real engine (static tier, no embedding cache);
``parse + route_in`` and ``route_out + serialize``: the two proto conversions of the layer
alone (the request bytes into a ``RouteInput``; the canned decision into the answer's bytes).
Prints the medians over the rounds. Run it in two checkouts to compare them.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_path import bench_engine  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from rest_path import Call, layer_args, run_rounds, with_canned  # noqa: E402

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb  # noqa: E402
from routeiq_sidecar.api.convert import route_in, route_out  # noqa: E402
from routeiq_sidecar.api.grpc import RouterServicer, decoded, lenient_parser  # noqa: E402
from routeiq_sidecar.api.pipeline import Pipeline  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests  # noqa: E402


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


async def main() -> None:
    args = layer_args(__doc__)
    engine = bench_engine("static", args.home)
    route = route_caller(RouterServicer(Pipeline(engine)))
    bodies = [json_format.ParseDict(with_candidates(b, CANDIDATES), pb.RouteRequest())
              .SerializeToString() for b in mixed_requests(300, seed=1)]
    first = pb.RouteRequest.FromString(bodies[0])
    canned = await engine.route(route_in(first, "canned"))
    route_canned = with_canned(engine, canned, route)
    parse = lenient_parser(pb.RouteRequest)

    async def request_in(raw: bytes) -> None:  # the request's share of the layer
        route_in(decoded(parse(raw), pb.RouteRequest), "r")

    async def answer_out(raw: bytes) -> None:  # the answer's share
        route_out(canned).SerializeToString()

    try:
        await engine.warm_up()
        await run_rounds([("Route, engine canned", route_canned), ("Route", route),
                          ("parse + route_in", request_in), ("route_out + serialize", answer_out)],
                         bodies, args.rounds, "static tier", args.json)
    finally:
        await engine.close()


if __name__ == "__main__":
    asyncio.run(main())
