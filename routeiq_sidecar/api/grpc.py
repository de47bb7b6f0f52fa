"""gRPC transport (grpc.aio): call the engine, map domain errors to status codes. Nothing else."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.api import convert
from routeiq_sidecar.api.ext_proc import add_ext_proc
from routeiq_sidecar.api.info import info_out
from routeiq_sidecar.errors import ErrorKind, RouteIQError, grpc_status
from routeiq_sidecar.runtime import Runtime

log = logging.getLogger("routeiq.grpc")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RouterService"].full_name
T = TypeVar("T")


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == "x-request-id" and isinstance(v, str) and 0 < len(v) <= 128 and v.isprintable():
            return v
    return uuid.uuid4().hex


class RouterServicer(pb_grpc.RouterServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _call(
        self, method: str, context: grpc.aio.ServicerContext, fn: Callable[[str], Awaitable[T]]
    ) -> T:
        t0 = time.perf_counter()
        rid = _request_id(context)
        metrics = self.rt.engine.metrics
        metrics.in_flight.inc()
        try:
            context.set_trailing_metadata((("x-request-id", rid),))
            self.rt.check_serving()
            return await fn(rid)
        except RouteIQError as err:
            if err.kind in (ErrorKind.OVERLOADED, ErrorKind.UNAVAILABLE):
                metrics.rejections.labels(err.kind.value).inc()
            await context.abort(grpc_status(err), err.message)
        except Exception:
            log.exception("unhandled error in %s (request_id=%s)", method, rid)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        finally:
            metrics.in_flight.dec()
            metrics.request_seconds.labels("grpc", method).observe(time.perf_counter() - t0)
        raise AssertionError("unreachable")  # abort raises

    async def Route(self, request: pb.RouteRequest, context: Any) -> pb.RouteResponse:
        async def run(rid: str) -> pb.RouteResponse:
            inp = convert.route_in(request, rid)
            if inp.deadline_ms == 0 and context.time_remaining() is not None:
                # The gRPC deadline bounds the model path; keep a little for the fallback rule.
                ms = int(max(1.0, context.time_remaining() * 1000 * 0.8))
                inp = _with_deadline(inp, ms)
            return convert.route_out(await self.rt.engine.route(inp))

        return await self._call("Route", context, run)

    async def Classify(self, request: pb.ClassifyRequest, context: Any) -> pb.ClassifyResponse:
        async def run(rid: str) -> pb.ClassifyResponse:
            rid = request.request_id or rid
            c = await self.rt.engine.classify(
                rid, convert.messages_in(request.messages), request.prompt
            )
            return convert.classify_out(c, rid)

        return await self._call("Classify", context, run)

    async def Feedback(self, request: pb.FeedbackRequest, context: Any) -> pb.FeedbackResponse:
        async def run(rid: str) -> pb.FeedbackResponse:
            dup = await self.rt.engine.feedback(
                request.decision_id, convert.feedback_outcome(request)
            )
            return pb.FeedbackResponse(
                accepted=True, duplicate=dup, decision_id=request.decision_id
            )

        return await self._call("Feedback", context, run)

    async def GetInfo(self, request: pb.GetInfoRequest, context: Any) -> pb.GetInfoResponse:
        async def run(rid: str) -> pb.GetInfoResponse:
            return info_out(self.rt.engine)

        return await self._call("GetInfo", context, run)


def _with_deadline(inp: Any, ms: int) -> Any:
    from dataclasses import replace

    return replace(inp, deadline_ms=ms)


def build_grpc_server(
    rt: Runtime, max_message_bytes: int, *, reuse_port: bool = False
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ]
    )
    pb_grpc.add_RouterServiceServicer_to_server(RouterServicer(rt), server)
    ext_proc_name = add_ext_proc(server, rt)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            ext_proc_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    return server, health_servicer
