"""gRPC transport (grpc.aio): call the pipeline, map domain errors to status codes. Nothing else.

RouterService is registered here rather than by the generated ``add_..._to_server`` so that a
request that does not parse (garbage bytes, invalid UTF-8 in a string field) reaches the call as
:class:`Undecodable` and is answered INVALID_ARGUMENT with its request id, like any other
refusal; grpc would answer UNKNOWN with neither."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.api import convert
from routeiq_sidecar.api.ext_proc import add_ext_proc
from routeiq_sidecar.api.pipeline import Pipeline
from routeiq_sidecar.errors import ErrorKind, RouteIQError, grpc_status, grpc_trailers
from routeiq_sidecar.ids import new_id

log = logging.getLogger("routeiq.grpc")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RouterService"].full_name
T = TypeVar("T")
M = TypeVar("M", bound=Message)
MAX_DETAIL = 200  # of the parser's own message, repeated in the refusal


class Undecodable:
    """A request body that is not a valid message of its type."""

    def __init__(self, type_name: str, exc: Exception) -> None:
        detail = str(exc)[:MAX_DETAIL] or type(exc).__name__
        self.error = RouteIQError(
            ErrorKind.INVALID_ARGUMENT,
            f"request: not a valid {type_name} message (not protobuf, a wrong field type, or "
            f"invalid UTF-8 in a string field): {detail}",
            field="request",
        )


def lenient_parser(cls: type[M]) -> Callable[[bytes], M | Undecodable]:
    """The request deserializer: never raises (grpc would answer UNKNOWN), the call refuses."""
    type_name = cls.DESCRIPTOR.full_name

    def parse(data: bytes) -> M | Undecodable:
        msg: M = cls()
        try:
            msg.ParseFromString(data)
        except Exception as exc:  # DecodeError, or a ValueError/RuntimeError from the runtime
            return Undecodable(type_name, exc)
        return msg

    return parse


def decoded(request: object, cls: type[M]) -> M:
    """The parsed request, or its INVALID_ARGUMENT (raised inside the call, so it is counted,
    logged and answered with the request id like every refusal)."""
    if isinstance(request, Undecodable):
        raise request.error
    if not isinstance(request, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(request).__name__}")
    return request


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == "x-request-id" and isinstance(v, str) and 0 < len(v) <= 128 and v.isprintable():
            return v
    return new_id()


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

    async def Route(self, request: object, context: Any) -> pb.RouteResponse:
        async def run(rid: str, span: Any) -> pb.RouteResponse:
            inp = convert.route_in(decoded(request, pb.RouteRequest), rid)
            d = await self.rt.route(
                inp, span, transport="grpc", time_remaining_s=context.time_remaining()
            )
            return convert.route_out(d)

        return await self._call("Route", context, run)

    async def Classify(self, request: object, context: Any) -> pb.ClassifyResponse:
        async def run(rid: str, span: Any) -> pb.ClassifyResponse:
            req = decoded(request, pb.ClassifyRequest)
            rid = req.request_id or rid
            msgs = convert.messages_in(req.messages)
            c = await self.rt.classify(rid, msgs, req.prompt)
            return convert.classify_out(c, rid)

        return await self._call("Classify", context, run)

    async def Feedback(self, request: object, context: Any) -> pb.FeedbackResponse:
        async def run(rid: str, span: Any) -> pb.FeedbackResponse:
            req = decoded(request, pb.FeedbackRequest)
            outcome = convert.feedback_outcome(req)
            dup = await self.rt.feedback(req.decision_id, outcome)
            return pb.FeedbackResponse(accepted=True, duplicate=dup, decision_id=req.decision_id)

        return await self._call("Feedback", context, run)

    async def GetInfo(self, request: object, context: Any) -> pb.GetInfoResponse:
        async def run(rid: str, span: Any) -> pb.GetInfoResponse:
            decoded(request, pb.GetInfoRequest)
            return self.rt.info()

        return await self._call("GetInfo", context, run)


def add_router_service(servicer: RouterServicer, server: grpc.aio.Server) -> None:
    """The generated registration with :func:`lenient_parser` as every request deserializer."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["RouterService"].methods:
        request_cls = getattr(pb, method.input_type.name)
        response_cls = getattr(pb, method.output_type.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=lenient_parser(request_cls),
            response_serializer=response_cls.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


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
    add_router_service(RouterServicer(rt), server)
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
