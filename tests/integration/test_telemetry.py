"""Traces reach a real OTLP/gRPC receiver with the decision contract's attributes and the
caller's trace id; a down collector never fails a request; logs are JSON with request ids."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.telemetry.logs import JsonFormatter
from routeiq_sidecar.telemetry.tracing import CONTRACT
from tests.conftest import CHEAP, STRONG, make_settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[Any] = []

    async def Export(self, request: Any, context: Any) -> Any:
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                self.spans.extend(ss.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


def attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value"))
    return out


async def wait_for(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_spans_reach_a_real_otlp_receiver(tmp_path: Path, tiny_bundle: Any) -> None:
    receiver = Receiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    sc = Sidecar(
        make_settings(tmp_path, otlp_endpoint=f"http://127.0.0.1:{port}"), bundle=tiny_bundle
    )
    await sc.start()
    try:
        async with httpx.AsyncClient() as c:
            r = await c.post(
                f"http://127.0.0.1:{sc.http_port}/v1/route",
                json={"prompt": "hi", "model_group": "g", "candidates": [CHEAP, STRONG]},
                headers={"traceparent": TRACEPARENT},
            )
            shed = await c.post(
                f"http://127.0.0.1:{sc.http_port}/v1/route",
                content=b"{",
                headers={"traceparent": TRACEPARENT, "content-type": "application/json"},
            )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
            await pb_grpc.RouterServiceStub(ch).Route(
                pb.RouteRequest(prompt="hello", candidates=[pb.Candidate(**CHEAP)]),
                metadata=(("traceparent", TRACEPARENT),),
            )
        await wait_for(lambda: sum(s.name == "routeiq.route" for s in receiver.spans) >= 3)
    finally:
        await sc.stop()  # flushes the span processor
        await server.stop(None)
    assert r.headers["traceparent"].split("-")[1] == TRACE_ID
    assert shed.status_code == 400 and shed.headers["traceparent"].split("-")[1] == TRACE_ID
    routes = [s for s in receiver.spans if s.name == "routeiq.route"]
    assert {s.trace_id.hex() for s in routes} == {TRACE_ID}
    ok = next(
        s
        for s in routes
        if attrs(s).get("routeiq.transport") == "http" and "routeiq.selected_id" in attrs(s)
    )
    a = attrs(ok)
    assert a["routeiq.contract"] == CONTRACT
    assert a["routeiq.decision_id"] == r.json()["decision_id"]
    assert a["routeiq.selected_id"] == r.json()["selected_id"]
    assert a["gen_ai.request.model"] == "g" and a["routeiq.candidate_count"] == 2
    for key in (
        "routeiq.strategy",
        "routeiq.profile",
        "routeiq.category",
        "routeiq.complexity",
        "routeiq.degraded",
        "routeiq.bundle_version",
        "routeiq.timings.total_us",
    ):
        assert key in a, key
    grpc_span = next(s for s in routes if attrs(s).get("routeiq.transport") == "grpc")
    assert attrs(grpc_span)["routeiq.selected_id"] == "cheap"
    bad = next(s for s in routes if attrs(s).get("routeiq.error.code") == "invalid_argument")
    assert bad.status.code == 2  # STATUS_CODE_ERROR


async def test_collector_down_never_fails_requests(tmp_path: Path, tiny_bundle: Any) -> None:
    sc = Sidecar(make_settings(tmp_path, otlp_endpoint="http://127.0.0.1:9"), bundle=tiny_bundle)
    await sc.start()
    try:
        async with httpx.AsyncClient() as c:
            rs = [
                await c.post(
                    f"http://127.0.0.1:{sc.http_port}/v1/route",
                    json={"prompt": f"p{i}", "candidates": [CHEAP]},
                )
                for i in range(20)
            ]
    finally:
        await sc.stop()
    assert [r.status_code for r in rs] == [200] * 20


def test_json_log_lines_carry_request_and_decision_ids() -> None:
    rec = logging.LogRecord(
        "routeiq.requests", logging.INFO, __file__, 1, "decision %s", ("d1",), None
    )
    rec.request_id, rec.decision_id, rec.event = "r1", "d1", "decision"
    line = json.loads(JsonFormatter().format(rec))
    assert line["msg"] == "decision d1" and line["request_id"] == "r1"
    assert line["decision_id"] == "d1" and line["level"] == "info" and line["ts"].endswith("Z")


async def test_instrumented_transports_no_probe_spans_and_the_service_name(
    tmp_path: Path, tiny_bundle: Any, monkeypatch: Any
) -> None:
    """REST and gRPC calls get the instrumentations' SERVER spans with the routeiq.* span as
    their child; probes make no span; an ext_proc decision joins the HTTP request's trace;
    OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name the service."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from routeiq_sidecar._proto.envoy.config.core.v3 import base_pb2
    from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2 as ep
    from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import (
        external_processor_pb2_grpc as ep_grpc,
    )
    from tests.otlp_support import otlp_receiver

    monkeypatch.setenv("OTEL_SERVICE_NAME", "router-prod")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(json.dumps({"model_groups": {"auto": [CHEAP, STRONG]}}))
    headers = [(":method", "POST"), ("content-type", "application/json"),
               ("traceparent", TRACEPARENT)]  # fmt: skip
    with otlp_receiver() as receiver:
        sc = Sidecar(
            make_settings(tmp_path, otlp_endpoint=receiver.endpoint, catalogue=catalogue),
            bundle=tiny_bundle,
        )
        await sc.start()
        try:
            base = f"http://127.0.0.1:{sc.http_port}"
            async with httpx.AsyncClient() as c:
                for probe in ("/healthz", "/readyz", "/metrics", "/readyz?x=1"):
                    assert (await c.get(base + probe)).status_code == 200
                r = await c.post(f"{base}/v1/route", json={"prompt": "hi", "candidates": [CHEAP]})
                assert (await c.get(f"{base}/nowhere/{TRACE_ID}")).status_code == 404
            async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
                await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
                g = await pb_grpc.RouterServiceStub(ch).Route(
                    pb.RouteRequest(prompt="hello", candidates=[pb.Candidate(**CHEAP)])
                )
                body = json.dumps({"model": "auto", "messages": [{"role": "user",
                                                                  "content": "hi"}]}).encode()
                stream = ep_grpc.ExternalProcessorStub(ch).Process()
                await stream.write(ep.ProcessingRequest(request_headers=ep.HttpHeaders(
                    headers=base_pb2.HeaderMap(headers=[
                        base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in headers
                    ]))))
                await stream.write(ep.ProcessingRequest(
                    request_body=ep.HttpBody(body=body, end_of_stream=True)))
                await stream.done_writing()
                answers = [a async for a in stream]
        finally:
            await sc.stop()  # flushes the span processor to the receiver
    assert r.status_code == 200 and g.selected_id == "cheap" and len(answers) == 2
    names = [x.name for x in receiver.received]
    assert not [n for n in names if any(p in n for p in ("healthz", "readyz", "metrics"))]
    assert not [n for n in names if "Health" in n or "ExternalProcessor" in n], names
    assert "GET" in names and not [n for n in names if "nowhere" in n]  # the 404: method only
    by_id = {x.span.span_id: x for x in receiver.received}
    http = next(x for x in receiver.received if x.name == "POST /v1/route")
    grpc_span = next(x for x in receiver.received if x.name == "/routeiq.v1.RouterService/Route")
    routes = [x for x in receiver.received if x.name == "routeiq.route"]
    parents = {by_id[x.span.parent_span_id].name for x in routes}
    assert parents == {"POST /v1/route", "/routeiq.v1.RouterService/Route"}
    assert http.span.kind == 2 and grpc_span.span.kind == 2  # SERVER
    assert all(x.span.kind == 1 for x in routes)  # INTERNAL, children of the transport's
    assert http.attributes.get("http.response.status_code", http.attributes.get(
        "http.status_code")) == 200
    (ext,) = [x for x in receiver.received if x.name == "routeiq.extproc"]
    assert ext.attributes["routeiq.transport"] == "ext_proc" and ext.span.kind == 2
    assert ext.span.trace_id.hex() == TRACE_ID  # the HTTP request's trace, via Envoy
    resources = {(x.resource["service.name"], x.resource.get("deployment.environment"))
                 for x in receiver.received}
    assert resources == {("router-prod", "test")}
    assert {x.resource["service.version"] for x in receiver.received} != {""}
