"""REST transport (starlette): parse proto JSON, call the pipeline, map errors. Nothing else.

Open endpoints (no token): /healthz, /readyz, /metrics, /openapi.json. Everything under /v1
needs ``Authorization: Bearer <auth_token>`` when ``auth_token`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api import convert
from routeiq_sidecar.api.json_out import JSONAnswer
from routeiq_sidecar.api.openapi import openapi_document
from routeiq_sidecar.api.pipeline import Pipeline
from routeiq_sidecar.config import LOOPBACK
from routeiq_sidecar.errors import ErrorKind, RouteIQError, http_status
from routeiq_sidecar.ids import new_id
from routeiq_sidecar.limits import MAX_REQUEST_ID_CHARS, shown
from routeiq_sidecar.types import RouteInput

log = logging.getLogger("routeiq.rest")


def _request_id(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for k, v in headers:
        if k == b"x-request-id":
            rid = v.decode("latin-1").strip()
            if rid and len(rid) <= MAX_REQUEST_ID_CHARS and rid.isprintable():
                return rid
    return new_id()


class RequestContextMiddleware:
    """Every response (errors, 404s, load-shed ones) carries x-request-id, and traceparent when
    the request is traced (the ASGI instrumentation's span, opened outside this middleware).

    Each request runs in the drain guard (a 503 with Retry-After if the drain grace ends it);
    while draining, answers close their connection so clients reconnect elsewhere."""

    def __init__(self, app: ASGIApp, rt: Pipeline) -> None:
        self.app = app
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        span = trace.get_current_span()
        traceparent = self.rt.tracing.traceparent(span) if span.is_recording() else None
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def send_with_ids(message: AsgiMessage) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k not in (b"x-request-id", b"traceparent")
                ]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                if traceparent:
                    headers.append((b"traceparent", traceparent.encode("latin-1")))
                if self.rt.draining:
                    headers.append((b"connection", b"close"))
                message["headers"] = headers
            await send(message)

        try:
            async with self.rt.drain.guard():
                await self.app(scope, receive, send_with_ids)
        except RouteIQError as err:  # the drain grace ended this request
            if not started:
                await error_response(err)(scope, receive, send_with_ids)


KNOWN_PATHS = frozenset(
    ("/v1/route", "/route", "/v1/classify", "/v1/feedback", "/v1/info", "/v1/admin/reload",
     "/openapi.json")
)  # fmt: skip


def span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    """The HTTP span's name: method and path for RouteIQ's paths, the method alone for any
    other path (a scanner's 404s must not make a span name each)."""
    method, path = scope.get("method", "HTTP"), scope.get("path", "")
    return (f"{method} {path}" if path in KNOWN_PATHS else method), {}


def error_response(err: RouteIQError) -> JSONAnswer:
    headers = {"retry-after": str(err.retry_after_s)} if err.retry_after_s else None
    if err.kind is ErrorKind.UNAUTHENTICATED:
        headers = {"www-authenticate": "Bearer"}
    return JSONAnswer({"error": err.to_dict()}, status_code=http_status(err), headers=headers)


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The whole body, at most ``limit`` bytes within ``timeout_s``: read before the request is
    admitted, so a slow sender holds a connection, never an in-flight slot."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RouteIQError(
            ErrorKind.TOO_LARGE, f"body: {declared} bytes exceed max_body_bytes {limit}"
        )
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):  # no task per request, unlike wait_for
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise RouteIQError(
                        ErrorKind.TOO_LARGE, f"body: more than max_body_bytes {limit} bytes"
                    )
                chunks.append(chunk)
    except TimeoutError:
        raise RouteIQError(
            ErrorKind.REQUEST_TIMEOUT,
            f"body: {size} bytes arrived in body_timeout_s ({timeout_s:g} s); send it at once",
        ) from None
    return b"".join(chunks)


def check_json_type(request: Request) -> None:
    """State-changing calls take JSON only: a web page can send text/plain, form or multipart
    bodies cross-site without a CORS preflight, never application/json."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    json_like = kind.startswith("application/") and kind.endswith("+json")
    if kind != "application/json" and not json_like:
        raise RouteIQError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"content-type: {shown(kind or 'none')} is not accepted; send application/json",
            field="content-type",
        )


LOOPBACK_HOSTS = frozenset(("localhost", "127.0.0.1", "[::1]", "::1"))


def allowed_hosts(http_host: str, configured: list[str]) -> frozenset[str] | None:
    """Host header values accepted on the API: the configured ones; on a loopback bind only
    loopback names (a DNS-rebinding page names its own host); None = any."""
    if configured:
        return frozenset(h.lower() for h in configured)
    return LOOPBACK_HOSTS if http_host in LOOPBACK else None


def check_host(request: Request, allowed: frozenset[str] | None) -> None:
    if allowed is None:
        return
    host = request.headers.get("host", "").strip().lower()
    name = host
    if host.startswith("["):
        name = host[: host.find("]") + 1]
    elif host.count(":") == 1:
        name = host.rsplit(":", 1)[0]
    if host not in allowed and name not in allowed:
        raise RouteIQError(
            ErrorKind.FORBIDDEN,
            f"host: {shown(host)} is not an allowed Host for this server (allowed_hosts)",
            field="host",
        )


def build_rest_app(rt: Pipeline) -> ASGIApp:
    settings = rt.settings
    hosts = allowed_hosts(settings.http_host, settings.allowed_hosts)

    async def call(
        request: Request,
        method: str,
        parse: Callable[[bytes, str], Any] | None,
        fn: Callable[[Any, str, Any], Awaitable[dict[str, Any]]],
    ) -> Response:
        """``parse`` (None: no body) reads the body into what ``fn`` takes; ``fn`` answers with
        the proto JSON dict."""
        rid: str = request.scope["state"]["request_id"]
        body = b""

        async def prepare() -> None:
            nonlocal body
            check_host(request, hosts)
            if parse is not None:
                check_json_type(request)
                body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)

        try:
            async with rt.serve(
                method,
                transport="http",
                request_id=rid,
                carrier=None,  # the ASGI instrumentation's span is current
                authorization=request.headers.get("authorization"),
                prepare=prepare,
            ) as span:
                out = await fn(None if parse is None else parse(body, rid), rid, span)
            return JSONAnswer(out)
        except RouteIQError as err:
            return error_response(err)
        except ClientDisconnect:  # nobody reads the answer; not the server's error
            log.info("client left during %s", method, extra={"request_id": rid,
                                                            "event": "client_disconnect"})
            return Response(status_code=400)
        except Exception:  # a bug: answer 500 with the request id, keep serving
            log.exception("unhandled error in %s", method, extra={"request_id": rid})
            return error_response(RouteIQError(ErrorKind.INTERNAL, "internal error"))

    def message_of(cls: type[Message]) -> Callable[[bytes, str], Message]:
        return lambda body, rid: convert.parse_json(body, cls())

    async def route(inp: RouteInput, rid: str, span: Any) -> dict[str, Any]:
        # the hot route: body -> RouteInput -> Decision -> dict, no proto message in between
        return convert.route_json(await rt.route(inp, span, transport="http"))

    async def classify(req: pb.ClassifyRequest, rid: str, span: Any) -> dict[str, Any]:
        rid = req.request_id or rid
        c = await rt.classify(rid, convert.messages_in(req.messages), req.prompt)
        return convert.to_json_dict(convert.classify_out(c, rid))

    async def feedback(req: pb.FeedbackRequest, rid: str, span: Any) -> dict[str, Any]:
        dup = await rt.feedback(req.decision_id, convert.feedback_outcome(req))
        return convert.to_json_dict(
            pb.FeedbackResponse(accepted=True, duplicate=dup, decision_id=req.decision_id)
        )

    async def info(_: None, rid: str, span: Any) -> dict[str, Any]:
        return convert.to_json_dict(rt.info())

    async def route_ep(request: Request) -> Response:
        return await call(request, "Route", convert.route_request_json, route)

    async def classify_ep(request: Request) -> Response:
        return await call(request, "Classify", message_of(pb.ClassifyRequest), classify)

    async def feedback_ep(request: Request) -> Response:
        return await call(request, "Feedback", message_of(pb.FeedbackRequest), feedback)

    async def info_ep(request: Request) -> Response:
        return await call(request, "GetInfo", None, info)

    async def reload_ep(request: Request) -> Response:
        """Admin: verify and load the configured bundle again (the old one stays on failure)."""
        rid: str = request.scope["state"]["request_id"]
        try:
            check_host(request, hosts)
            check_json_type(request)
            r = await rt.reload(request.headers.get("authorization"))
        except RouteIQError as err:
            return error_response(err)
        body = {
            "reloaded": r.ok,
            "detail": r.detail,
            "bundle_version": r.bundle_version,
            "request_id": rid,
        }
        return JSONAnswer(body, status_code=200 if r.ok else 409)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        if rt.ready:
            return PlainTextResponse("ready\n")
        return PlainTextResponse("draining\n", status_code=503)

    async def metrics_ep(request: Request) -> Response:
        rt.metrics.flush()  # what this worker gathered (telemetry/accumulate.py), on the loop
        body = await asyncio.to_thread(rt.metrics.exposition)  # a scrape never blocks routing
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    doc = json.dumps(openapi_document()).encode()

    async def openapi(request: Request) -> Response:
        return Response(doc, media_type="application/json")

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(
            RouteIQError(ErrorKind.NOT_FOUND, f"path: no route {request.url.path}")
        )

    async def bad_method(request: Request, exc: Exception) -> Response:
        allow = getattr(exc, "headers", None) or {}
        return JSONAnswer(
            {"error": {"code": "method_not_allowed",
                       "message": f"{shown(request.method)} not allowed on {request.url.path}"}},
            status_code=405,
            headers={"allow": allow["Allow"]} if "Allow" in allow else None,
        )

    routes = [
        Route("/v1/route", route_ep, methods=["POST"]),
        Route("/route", route_ep, methods=["POST"]),
        Route("/v1/classify", classify_ep, methods=["POST"]),
        Route("/v1/feedback", feedback_ep, methods=["POST"]),
        Route("/v1/info", info_ep, methods=["GET"]),
        Route("/v1/admin/reload", reload_ep, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_ep, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id", "traceparent"],
                expose_headers=["x-request-id", "traceparent", "retry-after"],
            )
        )
    app: ASGIApp = Starlette(
        routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: bad_method}
    )
    if not settings.cors_origins:  # with CORS every request goes through its middleware
        app = RouteFirst(app, route_ep)
    return rt.tracing.asgi(RequestContextMiddleware(app, rt), span_details)


ROUTE_PATHS = frozenset(("/route", "/v1/route"))


class RouteFirst:
    """``POST /route`` and ``POST /v1/route`` straight to their endpoint; every other request
    to Starlette's app. The endpoint answers every error itself (``call``: RouteIQError, a
    client that left, a bug as 500), so Starlette's error middleware, router and endpoint
    wrappers add nothing to the hot route but their cost (docs/benchmarks.md, "Fewer calls
    around the kNN")."""

    def __init__(self, app: ASGIApp, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in ROUTE_PATHS
                and not scope.get("root_path")):
            response = await self.endpoint(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
