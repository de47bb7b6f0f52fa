"""Envoy ext_proc transport: route an OpenAI-style chat request that passes through Envoy.

One gRPC stream is one HTTP request. Envoy sends the request headers, then (processing mode
``request_body_mode: BUFFERED``) the whole body; the body's ``model`` is the model group, the
catalogue gives the candidates, and the answer is header mutations (``x-routeiq-deployment``,
``x-routeiq-model``, ``x-routeiq-decision-id``) with ``clear_route_cache`` so Envoy's routes
pick the deployment's cluster. Rules (documented in the README, "Use with Envoy"):

- A request RouteIQ cannot route (not a JSON POST, a body that is not JSON or has no ``model``,
  no text, an unknown model group, no eligible candidate) passes unchanged: Envoy's default
  route serves it. The processor never answers such a request with an error of its own.
- RouteIQ itself failing (draining, overloaded, a wrong or missing ``auth_token``, an internal
  error) ends the stream with a gRPC error, so Envoy's ``failure_mode_allow`` decides: default
  route (true) or an error (false). Decisions share the other transports' pipeline
  (``Pipeline.serve``: in-flight bound, span, metrics, decision log).
- The decision has its own deadline (``ext_proc_deadline_ms``, below Envoy's
  ``message_timeout``, applied by the pipeline): past it the fallback rule answers
  (``x-routeiq-degraded: true``). The body is read by api/openai_body.py.
- Whatever processing mode Envoy is configured with is honoured: each message Envoy sends gets
  its one answer (none in observability mode), streamed bodies pass through untouched (echoed
  back in FULL_DUPLEX_STREAMED), and response bodies are never buffered or changed.
- Response headers, when Envoy sends them, become feedback on the decision (status, latency).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from routeiq_sidecar._proto.envoy.config.core.v3 import base_pb2
from routeiq_sidecar._proto.envoy.extensions.filters.http.ext_proc.v3 import (
    processing_mode_pb2 as pm,
)
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from routeiq_sidecar.api.openai_body import NotRoutable, route_input
from routeiq_sidecar.api.pipeline import Pipeline
from routeiq_sidecar.errors import ErrorKind, RouteIQError, grpc_status
from routeiq_sidecar.ids import new_id
from routeiq_sidecar.types import Decision

log = logging.getLogger("routeiq.ext_proc")
SERVICE_NAME: str = ep.DESCRIPTOR.services_by_name["ExternalProcessor"].full_name

HEADER_DEPLOYMENT = "x-routeiq-deployment"
HEADER_MODEL = "x-routeiq-model"
HEADER_DECISION = "x-routeiq-decision-id"
HEADER_DEGRADED = "x-routeiq-degraded"
HEADER_PROFILE = "x-routeiq-profile"  # optional input: the routing profile of this request

_Mode = pm.ProcessingMode
_BUFFERED = (_Mode.BUFFERED, _Mode.BUFFERED_PARTIAL)
# Errors about this one request: it passes unrouted. Anything else fails the stream.
_PASS_KINDS = {
    ErrorKind.INVALID_ARGUMENT,
    ErrorKind.NO_ELIGIBLE_CANDIDATE,
    ErrorKind.TOO_LARGE,
    ErrorKind.NOT_FOUND,
}
_SKIP_BODY = _Mode(
    request_header_mode=_Mode.SEND,
    request_body_mode=_Mode.NONE,
    response_header_mode=_Mode.SKIP,
    response_body_mode=_Mode.NONE,
)


@dataclass
class _Stream:
    """What one HTTP request's stream remembers between Envoy's messages."""

    request_body_mode: int | None = None  # from protocol_config; None = Envoy did not say
    response_body_mode: int | None = None
    routable: bool = False
    request_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # the request's (trace context)
    profile: str = ""
    chunks: list[bytes] = field(default_factory=list)
    decision_id: str = ""
    decided_at: float = 0.0


def _headers(msg: ep.HttpHeaders) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in msg.headers.headers:
        value = h.raw_value.decode("utf-8", "replace") if h.raw_value else h.value
        out[h.key.lower()] = value
    return out


def _set(key: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, raw_value=value.encode()),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


class ExtProcServicer(ep_grpc.ExternalProcessorServicer):
    def __init__(self, rt: Pipeline) -> None:
        self.rt = rt
        self._tasks: set[asyncio.Task[None]] = set()

    async def Process(
        self, request_iterator: AsyncIterator[ep.ProcessingRequest], context: Any
    ) -> AsyncIterator[ep.ProcessingResponse]:
        st = _Stream()
        try:
            # Envoy sends the token as the grpc_service's initial_metadata.
            md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            self.rt.open_stream(md.get("authorization"))
            async for req in request_iterator:
                if req.HasField("protocol_config"):
                    st.request_body_mode = req.protocol_config.request_body_mode
                    st.response_body_mode = req.protocol_config.response_body_mode
                resp = await self._step(req, st)
                if resp is not None and not req.observability_mode:
                    yield resp
        except RouteIQError as err:
            # RouteIQ cannot serve: Envoy's failure_mode_allow picks the default route or an error.
            log.warning("ext_proc stream failed: %s", err.message)
            await context.abort(grpc_status(err), err.message)
        except Exception:
            log.exception("unhandled error in ext_proc (request_id=%s)", st.request_id)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")

    async def _step(self, req: ep.ProcessingRequest, st: _Stream) -> ep.ProcessingResponse | None:
        kind = req.WhichOneof("request")
        if kind == "request_headers":
            return self._request_headers(req.request_headers, st)
        if kind == "request_body":
            return await self._request_body(req.request_body, st)
        if kind == "response_headers":
            self._response_headers(req.response_headers, st)
            return ep.ProcessingResponse(response_headers=ep.HeadersResponse())
        if kind == "response_body":
            body = _passthrough(req.response_body, st.response_body_mode)
            return ep.ProcessingResponse(response_body=body)
        if kind == "request_trailers":
            return ep.ProcessingResponse(request_trailers=ep.TrailersResponse())
        if kind == "response_trailers":
            return ep.ProcessingResponse(response_trailers=ep.TrailersResponse())
        return None

    # --- request
    def _request_headers(self, msg: ep.HttpHeaders, st: _Stream) -> ep.ProcessingResponse:
        h = st.headers = _headers(msg)
        st.request_id = h.get("x-request-id") or new_id()
        st.profile = h.get(HEADER_PROFILE, "").strip()
        method = h.get(":method", "POST").upper()
        json_body = "json" in h.get("content-type", "").lower()
        st.routable = method == "POST" and json_body and not msg.end_of_stream
        out = ep.ProcessingResponse(request_headers=ep.HeadersResponse())
        if not st.routable:
            log.debug("pass %s: not a JSON POST with a body", st.request_id)
            # Spare Envoy the buffering (honoured when the filter sets allow_mode_override).
            out.mode_override.CopyFrom(_SKIP_BODY)
        return out

    async def _request_body(self, msg: ep.HttpBody, st: _Stream) -> ep.ProcessingResponse:
        mode = st.request_body_mode
        buffered = mode in _BUFFERED if mode is not None else True
        if not st.routable or not buffered or st.decision_id:
            # Streamed bodies cannot move the route (headers have gone): they pass untouched.
            return ep.ProcessingResponse(request_body=_passthrough(msg, mode))
        st.chunks.append(msg.body)
        if not msg.end_of_stream:  # BUFFERED_PARTIAL cut the body: a JSON prefix is not JSON
            st.routable = False
            log.debug("pass %s: body larger than Envoy's buffer", st.request_id)
            return ep.ProcessingResponse(request_body=ep.BodyResponse())
        body, st.chunks = b"".join(st.chunks), []
        try:
            return await self._decide(body, st)
        except NotRoutable as skip:
            log.debug("pass %s: %s", st.request_id, skip)
        return ep.ProcessingResponse(request_body=ep.BodyResponse())

    async def _decide(self, body: bytes, st: _Stream) -> ep.ProcessingResponse:
        s = self.rt.settings
        inp, doc = route_input(body, st.request_id, st.profile)
        try:
            # The shared pipeline: drain, in-flight bound, span (the request's traceparent),
            # metrics, decision log. The stream was authenticated when it opened.
            async with self.rt.serve(
                "ExtProc",
                transport="ext_proc",
                request_id=st.request_id,
                carrier=st.headers,
                authorization=None,
                protected=False,
            ) as span:
                d = await self.rt.route(inp, span, transport="ext_proc")
        except RouteIQError as err:
            if err.kind in _PASS_KINDS:
                raise NotRoutable(err.message) from None
            raise
        st.decision_id, st.decided_at = d.decision_id, time.perf_counter()
        common = ep.CommonResponse(
            header_mutation=ep.HeaderMutation(set_headers=_decision_headers(d)),
            clear_route_cache=True,
        )
        if s.ext_proc_rewrite_model:
            doc["model"] = d.selected.labels.get("upstream_model") or d.selected.model
            new = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
            common.body_mutation.body = new
            common.header_mutation.set_headers.append(_set("content-length", str(len(new))))
        return ep.ProcessingResponse(request_body=ep.BodyResponse(response=common))

    # --- response
    def _response_headers(self, msg: ep.HttpHeaders, st: _Stream) -> None:
        if not st.decision_id or not self.rt.settings.ext_proc_feedback:
            return
        status = _headers(msg).get(":status", "")
        code = int(status) if status.isdigit() else 0
        outcome: dict[str, Any] = {
            "success": 200 <= code < 300,
            "latency_ms": (time.perf_counter() - st.decided_at) * 1000.0,
        }
        if not outcome["success"]:
            outcome["error"] = f"upstream answered HTTP {status or '?'}"
        # Recorded beside the answer: Envoy does not wait for the decision log.
        task = asyncio.get_running_loop().create_task(self._feedback(st.decision_id, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _feedback(self, decision_id: str, outcome: dict[str, Any]) -> None:
        try:
            await self.rt.feedback(decision_id, outcome)
        except RouteIQError as err:  # expired, or feedback already sent by the gateway
            log.debug("ext_proc feedback for %s not recorded: %s", decision_id, err.message)
        except Exception:
            log.exception("ext_proc feedback for %s failed", decision_id)


def _decision_headers(d: Decision) -> list[base_pb2.HeaderValueOption]:
    out = [
        _set(HEADER_DEPLOYMENT, d.selected.id),
        _set(HEADER_MODEL, d.selected.model),
        _set(HEADER_DECISION, d.decision_id),
    ]
    if d.degraded:
        out.append(_set(HEADER_DEGRADED, "true"))
    return out


def _passthrough(msg: ep.HttpBody, mode: int | None) -> ep.BodyResponse:
    """The answer that leaves a body as it is (FULL_DUPLEX_STREAMED needs the bytes back)."""
    if mode != _Mode.FULL_DUPLEX_STREAMED:
        return ep.BodyResponse()
    return ep.BodyResponse(
        response=ep.CommonResponse(
            body_mutation=ep.BodyMutation(
                streamed_response=ep.StreamedBodyResponse(
                    body=msg.body, end_of_stream=msg.end_of_stream
                )
            )
        )
    )


def add_ext_proc(server: grpc.aio.Server, rt: Pipeline) -> str:
    """Serve Envoy's ExternalProcessor on ``server``; returns its name for reflection."""
    ep_grpc.add_ExternalProcessorServicer_to_server(ExtProcServicer(rt), server)
    return SERVICE_NAME
