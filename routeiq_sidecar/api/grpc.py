"""gRPC transport (grpc.aio): call the pipeline, map domain errors to status codes. Nothing else."""

from __future__ import annotations

import logging
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
from routeiq_sidecar.api.pipeline import Pipeline
from routeiq_sidecar.errors import RouteIQError, grpc_status, grpc_trailers

log = logging.getLogger("routeiq.grpc")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RouterService"].full_name
T = TypeVar("T")


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == "x-request-id" and isinstance(v, str) and 0 < len(v) <= 128 and v.isprintable():
            return v
    return uuid.uuid4().hex


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class RouterServicer(pb_grpc.RouterServiceServicer):
    def __init__(self, rt: Pipeline) -> None:
        self.rt = rt

    async def _call(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        fn: Callable[[str, Any], Awaitable[T]],
    ) -> T:
        md = _metadata(context)
        rid = _request_id(context)
        context.set_trailing_metadata((("x-request-id", rid),))
        try:
            async with (
                self.rt.drain.guard(),
                self.rt.serve(
                    method,
                    transport="grpc",
                    request_id=rid,
                    carrier=None,  # the gRPC instrumentation's span (from the metadata) is current
                    authorization=md.get("authorization"),
                ) as span,
            ):
                return await fn(rid, span)
        except RouteIQError as err:
            context.set_trailing_metadata(grpc_trailers(err, rid))
            await context.abort(grpc_status(err), err.message)
        except Exception:
            log.exception("unhandled error in %s", method, extra={"request_id": rid})
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        raise AssertionError("unreachable")  # abort raises

    async def Route(self, request: pb.RouteRequest, context: Any) -> pb.RouteResponse:
        async def run(rid: str, span: Any) -> pb.RouteResponse:
            inp = convert.route_in(request, rid)
            d = await self.rt.route(
                inp, span, transport="grpc", time_remaining_s=context.time_remaining()
            )
            return convert.route_out(d)

        return await self._call("Route", context, run)

    async def Classify(self, request: pb.ClassifyRequest, context: Any) -> pb.ClassifyResponse:
        async def run(rid: str, span: Any) -> pb.ClassifyResponse:
            rid = request.request_id or rid
            msgs = convert.messages_in(request.messages)
            c = await self.rt.classify(rid, msgs, request.prompt)
            return convert.classify_out(c, rid)

        return await self._call("Classify", context, run)

    async def Feedback(self, request: pb.FeedbackRequest, context: Any) -> pb.FeedbackResponse:
        async def run(rid: str, span: Any) -> pb.FeedbackResponse:
            outcome = convert.feedback_outcome(request)
            dup = await self.rt.feedback(request.decision_id, outcome)
            return pb.FeedbackResponse(
                accepted=True, duplicate=dup, decision_id=request.decision_id
            )

        return await self._call("Feedback", context, run)

    async def GetInfo(self, request: pb.GetInfoRequest, context: Any) -> pb.GetInfoResponse:
        async def run(rid: str, span: Any) -> pb.GetInfoResponse:
            return self.rt.info()

        return await self._call("GetInfo", context, run)


def build_grpc_server(
    rt: Pipeline, max_message_bytes: int, *, reuse_port: bool = False
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    server = grpc.aio.server(
        interceptors=rt.tracing.grpc_interceptors(),
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
