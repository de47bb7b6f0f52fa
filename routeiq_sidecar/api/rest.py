"""REST transport (starlette): parse proto JSON, call the engine, map errors. Nothing else."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api import convert
from routeiq_sidecar.api.info import info_out
from routeiq_sidecar.api.openapi import openapi_document
from routeiq_sidecar.errors import ErrorKind, RouteIQError, http_status
from routeiq_sidecar.runtime import Runtime

log = logging.getLogger("routeiq.rest")
REQUEST_ID = "x-request-id"
_MAX_REQUEST_ID = 128


def _request_id(scope: Scope) -> str:
    for k, v in scope.get("headers", []):
        if k == b"x-request-id":
            rid = v.decode("latin-1").strip()
            if rid and len(rid) <= _MAX_REQUEST_ID and rid.isprintable():
                return rid
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Every response (errors, 404s, load-shed ones) carries x-request-id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def error_response(err: RouteIQError) -> JSONResponse:
    return JSONResponse({"error": err.to_dict()}, status_code=http_status(err))


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RouteIQError(
            ErrorKind.TOO_LARGE, f"body: {declared} bytes exceed max_body_bytes {limit}"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RouteIQError(ErrorKind.TOO_LARGE, f"body: more than max_body_bytes {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def build_rest_app(rt: Runtime) -> ASGIApp:
    settings = rt.engine.settings
    metrics = rt.engine.metrics

    async def call(
        request: Request,
        method: str,
        message: Message | None,
        fn: Callable[[Any, str], Awaitable[Message]],
    ) -> Response:
        t0 = time.perf_counter()
        rid: str = request.scope["state"]["request_id"]
        metrics.in_flight.inc()
        try:
            rt.check_serving()
            parsed = None
            if message is not None:
                body = await read_body(request, settings.max_body_bytes)
                parsed = convert.parse_json(body, message)
            out = await fn(parsed, rid)
            return JSONResponse(convert.to_json_dict(out))
        except RouteIQError as err:
            if err.kind in (ErrorKind.TOO_LARGE, ErrorKind.OVERLOADED, ErrorKind.UNAVAILABLE):
                metrics.rejections.labels(err.kind.value).inc()
            return error_response(err)
        except Exception:  # a bug: answer 500 with the request id, keep serving
            log.exception("unhandled error in %s (request_id=%s)", method, rid)
            return error_response(RouteIQError(ErrorKind.INTERNAL, "internal error"))
        finally:
            metrics.in_flight.dec()
            metrics.request_seconds.labels("http", method).observe(time.perf_counter() - t0)

    async def route(req: pb.RouteRequest, rid: str) -> Message:
        return convert.route_out(await rt.engine.route(convert.route_in(req, rid)))

    async def classify(req: pb.ClassifyRequest, rid: str) -> Message:
        rid = req.request_id or rid
        c = await rt.engine.classify(rid, convert.messages_in(req.messages), req.prompt)
        return convert.classify_out(c, rid)

    async def feedback(req: pb.FeedbackRequest, rid: str) -> Message:
        dup = await rt.engine.feedback(req.decision_id, convert.feedback_outcome(req))
        return pb.FeedbackResponse(accepted=True, duplicate=dup, decision_id=req.decision_id)

    async def info(_: None, rid: str) -> Message:
        return info_out(rt.engine)

    async def route_ep(request: Request) -> Response:
        return await call(request, "Route", pb.RouteRequest(), route)

    async def classify_ep(request: Request) -> Response:
        return await call(request, "Classify", pb.ClassifyRequest(), classify)

    async def feedback_ep(request: Request) -> Response:
        return await call(request, "Feedback", pb.FeedbackRequest(), feedback)

    async def info_ep(request: Request) -> Response:
        return await call(request, "GetInfo", None, info)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if rt.ready:
            return PlainTextResponse("ready\n")
        return PlainTextResponse("draining\n", status_code=503)

    async def metrics_ep(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    doc = json.dumps(openapi_document()).encode()

    async def openapi(request: Request) -> Response:
        return Response(doc, media_type="application/json")

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(
            RouteIQError(ErrorKind.NOT_FOUND, f"path: no route {request.url.path}")
        )

    async def bad_method(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {
                "error": {
                    "code": "method_not_allowed",
                    "message": f"method {request.method} not allowed",
                }
            },
            status_code=405,
        )

    routes = [
        Route("/v1/route", route_ep, methods=["POST"]),
        Route("/route", route_ep, methods=["POST"]),
        Route("/v1/classify", classify_ep, methods=["POST"]),
        Route("/v1/feedback", feedback_ep, methods=["POST"]),
        Route("/v1/info", info_ep, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_ep, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: bad_method})
    return RequestIdMiddleware(app)
