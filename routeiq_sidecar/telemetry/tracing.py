"""OpenTelemetry tracing: the transports' spans from the OpenTelemetry instrumentations, and one
``routeiq.<method>`` span per API call with the versioned decision contract's attributes.

Off unless ``otlp_endpoint`` (or ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``) is set. The provider
belongs to the sidecar (not the process-global one); the SDK reads the other ``OTEL_*``
variables (service name and resource, exporter headers / timeout / TLS, batch processor,
sampler). Spans leave through a BatchSpanProcessor (a bounded queue, exported off the request
path: a down collector drops spans, never blocks).

REST requests get the ASGI instrumentation's SERVER span and gRPC calls the gRPC
instrumentation's, except the probes (``/healthz``, ``/readyz``, ``/metrics``, gRPC health and
reflection), which make no span at all. The ``routeiq.*`` span is their child. An Envoy
ext_proc stream gets no span of its own: each decision's ``routeiq.extproc`` span joins the
HTTP request's trace (the ``traceparent`` header Envoy forwards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from routeiq_sidecar import __version__
from routeiq_sidecar.types import Decision

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Scope

CONTRACT = "routeiq.router_decision.v1"
_PROPAGATOR = TraceContextTextMapPropagator()
PROBE_URLS = r"/(healthz|readyz|metrics)/?(\?.*)?$"  # no span for these paths
UNTRACED_GRPC = ("grpc.health.v1.Health", "grpc.reflection", "envoy.service.ext_proc.v3")


SERVICE_NAME = "routeiq-sidecar"


def resource(default_name: str = SERVICE_NAME) -> Any:
    """The SDK's resource: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; RouteIQ only
    fills in service.name (when neither names it) and service.version."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    from_env = OTELResourceDetector().detect().attributes
    ours = {"service.name": default_name, "service.version": __version__}
    return Resource.create({k: v for k, v in ours.items() if k not in from_env})


class Tracing:
    def __init__(self, endpoint: str | None, service_name: str = SERVICE_NAME) -> None:
        self.enabled = bool(endpoint)
        self._provider: Any = None
        if endpoint:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # A bare host:port is plaintext; otherwise the scheme (http/https) or
            # OTEL_EXPORTER_OTLP_INSECURE decide, as the exporter does.
            insecure = True if "://" not in endpoint else None
            provider = TracerProvider(resource=resource(service_name))
            # Timeout, headers, compression, certificates: OTEL_EXPORTER_OTLP_[TRACES_]*;
            # queue and delay: OTEL_BSP_*; sampling: OTEL_TRACES_SAMPLER[_ARG] (the SDK's
            # defaults otherwise).
            exporter = OTLPSpanExporter(endpoint=endpoint, insecure=insecure)
            provider.add_span_processor(BatchSpanProcessor(exporter))
            self._provider = provider
            self.tracer: Tracer = provider.get_tracer("routeiq_sidecar", __version__)
        else:
            self.tracer = trace.NoOpTracer()

    def asgi(
        self,
        app: ASGIApp,
        span_details: Callable[[Scope], tuple[str, dict[str, Any]]] | None = None,
    ) -> ASGIApp:
        """``app`` inside the ASGI instrumentation (probes excluded), when tracing is on."""
        if not self.enabled:
            return app
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.util.http import ExcludeList

        return OpenTelemetryMiddleware(
            app,
            excluded_urls=ExcludeList([PROBE_URLS]),
            default_span_details=span_details,
            tracer_provider=self._provider,
            exclude_spans=["receive", "send"],
        )

    def grpc_interceptors(self) -> list[Any]:
        """The gRPC instrumentation's server interceptor (no span for health checks,
        reflection, or the ext_proc stream), when tracing is on."""
        if not self.enabled:
            return []
        from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

        untraced = filters.any_of(*(filters.service_prefix(s) for s in UNTRACED_GRPC))
        return [aio_server_interceptor(self._provider, filter_=filters.negate(untraced))]

    @staticmethod
    def extract(carrier: Mapping[str, str]) -> Context:
        return _PROPAGATOR.extract(carrier)

    @staticmethod
    def traceparent(span: Span) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
        return carrier.get("traceparent")

    @contextmanager
    def span(
        self, name: str, carrier: Mapping[str, str] | None, transport: str
    ) -> Iterator[Span]:
        """A ``routeiq.*`` span: the child of the current span (the instrumentation's) when
        ``carrier`` is None, else a SERVER span continuing the trace in ``carrier``."""
        if not self.enabled:  # nothing would record it: no context to attach and detach
            yield trace.INVALID_SPAN
            return
        ctx = self.extract(carrier) if carrier is not None else None
        with self.tracer.start_as_current_span(
            name,
            context=ctx,
            kind=SpanKind.SERVER if carrier is not None else SpanKind.INTERNAL,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            span.set_attribute("routeiq.transport", transport)
            yield span

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def decision_attributes(d: Decision, model_group: str, candidate_count: int) -> dict[str, Any]:
    """The attributes of the ``routeiq.router_decision.v1`` contract (docs/telemetry.md)."""
    t = d.timings
    return {
        "routeiq.contract": CONTRACT,
        "routeiq.request_id": d.request_id,
        "routeiq.decision_id": d.decision_id,
        "gen_ai.request.model": model_group,
        "routeiq.selected_id": d.selected.id,
        "routeiq.selected_model": d.selected.model,
        "routeiq.strategy": d.strategy,
        "routeiq.profile": d.profile,
        "routeiq.lambda": d.lam,
        "routeiq.candidate_count": candidate_count,
        "routeiq.eligible_count": sum(1 for r in d.ranking if r.eligible),
        "routeiq.category": d.signals.category,
        "routeiq.complexity": d.signals.complexity,
        "routeiq.complexity_score": d.signals.complexity_score,
        "routeiq.confidence": d.signals.confidence,
        "routeiq.degraded": d.degraded,
        "routeiq.sticky": d.sticky,
        "routeiq.experiment": d.experiment,
        "routeiq.arm": d.arm,
        "routeiq.bundle_version": d.bundle_version,
        "routeiq.timings.tokenize_us": t.tokenize_us,
        "routeiq.timings.embed_us": t.embed_us,
        "routeiq.timings.classify_us": t.classify_us,
        "routeiq.timings.queue_us": t.queue_us,
        "routeiq.timings.total_us": t.total_us,
        "routeiq.batch_size": t.batch_size,
        "routeiq.cache_hit": t.cache_hit,
        "routeiq.encoder": t.encoder,
        "routeiq.escalated": t.escalated,
    }


def mark_error(span: Span, code: str, message: str) -> None:
    span.set_attribute("routeiq.error.code", code)
    span.set_status(Status(StatusCode.ERROR, message))
