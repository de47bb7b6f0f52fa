"""A real OTLP/gRPC trace receiver for tests: the collector's own service definition
(opentelemetry-proto), on a free loopback port, in a thread pool (so asyncio tests and tests of
a sidecar subprocess can both use it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


def attrs(item: Any) -> dict[str, Any]:
    """The attributes of a span or a resource, as a plain dict."""
    out = {}
    for kv in item.attributes:
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value"))
    return out


@dataclass
class Received:
    span: Any
    resource: dict[str, Any]
    scope: str

    @property
    def name(self) -> str:
        return str(self.span.name)

    @property
    def attributes(self) -> dict[str, Any]:
        return attrs(self.span)


@dataclass
class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    endpoint: str = ""
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def Export(self, request: Any, context: Any) -> Any:
        with self._lock:
            for rs in request.resource_spans:
                resource = attrs(rs.resource)
                for ss in rs.scope_spans:
                    self.received.extend(Received(s, resource, ss.scope.name) for s in ss.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    @property
    def spans(self) -> list[Any]:
        with self._lock:
            return [r.span for r in self.received]

    def named(self, name: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.name == name]

    def wait_for(self, pred: Callable[[OtlpReceiver], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self):
                return True
            time.sleep(0.05)
        return pred(self)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.endpoint = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        server.stop(None)
