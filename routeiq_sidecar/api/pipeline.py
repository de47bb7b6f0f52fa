"""What both transports share: the engine, serving state, and the per-request pipeline.

``Runtime.serve(...)`` wraps every API call the same way on REST and gRPC: a span (context from
the caller's ``traceparent``), drain and auth checks, the in-flight bound (load shedding),
metrics and a log line for every refusal. Transports only convert messages and map errors.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field, replace

from opentelemetry.trace import Span

from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.telemetry.tracing import Tracing, decision_attributes, mark_error
from routeiq_sidecar.types import Decision, RouteInput

log = logging.getLogger("routeiq.requests")

Reloader = Callable[[], Awaitable[tuple[bool, str]]]


async def _no_reload() -> tuple[bool, str]:
    return False, "reload is not available in this process"


@dataclass
class Runtime:
    engine: Engine
    tracing: Tracing = field(default_factory=lambda: Tracing(None))
    reloader: Reloader = _no_reload
    draining: bool = False
    in_flight: int = 0

    @property
    def ready(self) -> bool:
        return not self.draining

    def check_serving(self) -> None:
        if self.draining:
            raise RouteIQError(
                ErrorKind.UNAVAILABLE,
                "server is draining: retry on another replica",
                retry_after_s=1,
            )

    def check_auth(self, authorization: str | None) -> None:
        token = self.engine.settings.auth_token
        if token is None:
            return
        expected = f"Bearer {token.get_secret_value()}"
        if not authorization or not hmac.compare_digest(authorization.strip(), expected):
            raise RouteIQError(
                ErrorKind.UNAUTHENTICATED,
                "authorization: missing or wrong bearer token",
                field="authorization",
            )

    def _admit(self) -> None:
        limit = self.engine.settings.max_in_flight
        if self.in_flight >= limit:
            raise RouteIQError(
                ErrorKind.OVERLOADED,
                f"overloaded: {self.in_flight} requests in flight (max_in_flight {limit}); "
                "retry shortly",
                retry_after_s=1,
            )

    @asynccontextmanager
    async def serve(
        self,
        method: str,
        *,
        transport: str,
        request_id: str,
        carrier: Mapping[str, str],
        authorization: str | None,
        protected: bool = True,
        span: Span | None = None,
    ) -> AsyncIterator[Span]:
        """The pipeline around one call; pass ``span`` when the transport already opened one."""
        metrics = self.engine.metrics
        t0 = time.perf_counter()
        name = f"routeiq.{method.lower()}"
        cm: AbstractContextManager[Span] = (
            nullcontext(span) if span is not None else self.tracing.span(name, carrier, transport)
        )
        with cm as span:
            span.update_name(name)
            span.set_attribute("routeiq.request_id", request_id)
            try:
                self.check_serving()
                if protected:
                    self.check_auth(authorization)
                self._admit()
                self.in_flight += 1
                metrics.in_flight.inc()
                try:
                    yield span
                finally:
                    self.in_flight -= 1
                    metrics.in_flight.dec()
            except RouteIQError as err:
                metrics.rejections.labels(err.kind.value).inc()
                mark_error(span, err.kind.value, err.message)
                log.info(
                    "refused %s: %s",
                    method,
                    err.message,
                    extra={"request_id": request_id, "event": f"refused.{err.kind.value}"},
                )
                raise
            finally:
                metrics.request_seconds.labels(transport, method).observe(time.perf_counter() - t0)

    async def route(self, inp: RouteInput, span: Span) -> Decision:
        s = self.engine.settings
        if inp.deadline_ms == 0 and s.default_deadline_ms:
            inp = replace(inp, deadline_ms=s.default_deadline_ms)
        d = await self.engine.route(inp)
        if self.tracing.enabled:
            span.set_attributes(decision_attributes(d, inp.model_group, len(d.ranking)))
        if s.log_decisions:
            log.info(
                "decision %s -> %s (%s, %s, %d us%s)",
                d.decision_id,
                d.selected.id,
                d.strategy,
                d.signals.complexity,
                d.timings.total_us,
                ", degraded" if d.degraded else "",
                extra={
                    "request_id": d.request_id,
                    "decision_id": d.decision_id,
                    "event": "decision",
                },
            )
        return d
