"""The one facade the transports call: REST, gRPC and Envoy ext_proc touch nothing else.

``Pipeline.serve(...)`` wraps every API call the same way on every transport: a span (context
from the caller's ``traceparent``), drain and auth checks, the in-flight bound (load shedding),
metrics and a log line for every refusal. ``route`` applies the one deadline policy, then the
engine; ``classify``, ``feedback``, ``info`` and ``reload`` pass through. Transports only
convert messages and map errors.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from opentelemetry.trace import Span

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api.drain import Drain
from routeiq_sidecar.api.info import info_out
from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.telemetry.metrics import Metrics
from routeiq_sidecar.telemetry.tracing import Tracing, decision_attributes, mark_error
from routeiq_sidecar.types import ChatMessage, Classified, Decision, RouteInput

log = logging.getLogger("routeiq.requests")

Reloader = Callable[[], Awaitable[tuple[bool, str]]]
GRPC_DEADLINE_SHARE = 0.8  # of a gRPC deadline for the model path; the rest for the fallback


async def _no_reload() -> tuple[bool, str]:
    return False, "reload is not available in this process"


def bearer_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``: the scheme in any case (RFC 7235), the credentials
    compared in constant time as bytes (any header value, ASCII or not, is simply wrong)."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    given = credentials.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, token.encode("ascii"))


@dataclass(frozen=True)
class Reloaded:
    ok: bool
    detail: str
    bundle_version: str  # the version served after the attempt


@dataclass
class Pipeline:
    engine: Engine
    tracing: Tracing = field(default_factory=lambda: Tracing(None))
    reloader: Reloader = _no_reload
    draining: bool = False
    in_flight: int = 0
    _last_reload: float = 0.0  # time.monotonic() of the last admin reload
    drain: Drain = field(default_factory=Drain)  # every API call runs in drain.guard()

    def __post_init__(self) -> None:
        self.engine.metrics.track_in_flight(lambda: self.in_flight)

    @property
    def ready(self) -> bool:
        return not self.draining

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def metrics(self) -> Metrics:
        return self.engine.metrics

    def open_stream(self, authorization: str | None) -> None:
        """Admission of a long-lived stream (ext_proc): serving and authorised, else refused."""
        try:
            self.check_serving()
            self.check_auth(authorization)
        except RouteIQError as err:
            self.metrics.rejections.labels(err.kind.value).inc()
            raise

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
        if not bearer_matches(authorization, token.get_secret_value()):
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
        carrier: Mapping[str, str] | None,
        authorization: str | None,
        protected: bool = True,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[Span]:
        """The pipeline around one call, in a ``routeiq.<method>`` span: the child of the
        current (instrumentation's) span when ``carrier`` is None, else continuing the trace
        ``carrier`` holds (ext_proc). ``prepare`` (REST: checks and the bounded body read) runs
        after the auth check and before admission, so a slow client never holds a slot."""
        metrics = self.engine.metrics
        t0 = time.perf_counter()
        name = f"routeiq.{method.lower()}"
        with self.tracing.span(name, carrier, transport) as span:
            span.set_attribute("routeiq.request_id", request_id)
            try:
                self.check_serving()
                if protected:
                    self.check_auth(authorization)
                if prepare is not None:
                    await prepare()
                self._admit()
                self.in_flight += 1  # routeiq_in_flight at each flush (track_in_flight)
                try:
                    yield span
                finally:
                    self.in_flight -= 1
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
                metrics.request_latency(transport, method).observe(time.perf_counter() - t0)

    def deadline_ms(
        self, asked_ms: int, *, transport: str, time_remaining_s: float | None = None
    ) -> int:
        """The one deadline policy: the request's own ``deadline_ms``; else ext_proc's
        ``ext_proc_deadline_ms``; else 80% of the gRPC deadline; else ``default_deadline_ms``."""
        s = self.settings
        if asked_ms != 0:  # a negative one is refused by the engine's validation
            return asked_ms
        if transport == "ext_proc" and s.ext_proc_deadline_ms > 0:
            return s.ext_proc_deadline_ms
        if time_remaining_s is not None:
            return int(max(1.0, time_remaining_s * 1000 * GRPC_DEADLINE_SHARE))
        return s.default_deadline_ms

    async def route(
        self,
        inp: RouteInput,
        span: Span,
        *,
        transport: str,
        time_remaining_s: float | None = None,
    ) -> Decision:
        """A decision within the deadline policy; ``time_remaining_s``: the transport's own."""
        s = self.settings
        deadline = self.deadline_ms(
            inp.deadline_ms, transport=transport, time_remaining_s=time_remaining_s
        )
        if deadline != inp.deadline_ms:
            inp = replace(inp, deadline_ms=deadline)
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

    async def classify(
        self, request_id: str, messages: tuple[ChatMessage, ...], prompt: str
    ) -> Classified:
        return await self.engine.classify(request_id, messages, prompt)

    async def feedback(self, decision_id: str, outcome: dict[str, Any]) -> bool:
        """True when this decision already had feedback (idempotent)."""
        return await self.engine.feedback(decision_id, outcome)

    def info(self) -> pb.GetInfoResponse:
        return info_out(self.engine)

    async def reload(self, authorization: str | None) -> Reloaded:
        """Admin: load the configured bundle again (the old one stays on failure)."""
        self.check_auth(authorization)
        wait = self._last_reload + self.settings.reload_min_interval_s - time.monotonic()
        if self._last_reload and wait > 0:
            self.metrics.rejections.labels(ErrorKind.OVERLOADED.value).inc()
            raise RouteIQError(
                ErrorKind.OVERLOADED,
                f"reload: the last one was under reload_min_interval_s "
                f"({self.settings.reload_min_interval_s:g} s) ago; retry in {wait:.1f} s",
                retry_after_s=max(1, math.ceil(wait)),
            )
        self._last_reload = time.monotonic()
        ok, detail = await self.reloader()
        return Reloaded(ok, detail, self.engine.loaded.bundle.version)
