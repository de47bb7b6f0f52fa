"""``RouteIQStrategy``: LiteLLM asks it for a deployment, it asks the RouteIQ sidecar.

The candidates are the model group's deployments that LiteLLM still considers usable; the
sidecar's ``selected_id`` is mapped back to that deployment dict. Whatever goes wrong (timeout,
connection error, 4xx/5xx, a bad answer, an open circuit breaker) the strategy falls back to
LiteLLM's usual selection for the same call, counts why, and the user's call goes on.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litellm.router import CustomRoutingStrategyBase

from routeiq_litellm.breaker import CircuitBreaker
from routeiq_litellm.candidates import (
    CachedLookup,
    ModelInfoLookup,
    build_candidates,
    litellm_model_info,
)
from routeiq_litellm.deployments import (
    CONSUMED_KEYS,
    KwargsSnapshot,
    healthy_deployments_async,
    healthy_deployments_sync,
)
from routeiq_litellm.request import build_route_request, forget_decision, remember_decision
from routeiq_litellm.stats import Outcome, Stats
from routeiq_litellm.transport import Decision, Transport, TransportError, make_transport

log = logging.getLogger("routeiq_litellm")

# Set while LiteLLM's own selection runs as our fallback: LiteLLM's async selection may call
# ``router.get_available_deployment``, which is ours once installed; it must not ask again.
_IN_FALLBACK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "routeiq_in_fallback", default=False
)

Deployment = dict[str, Any]
SyncSelect = Callable[..., Any]
AsyncSelect = Callable[..., Awaitable[Any]]


def _usual_selection(router: Any, name: str) -> Callable[..., Any]:
    """LiteLLM's selection method as installed before us (never a RouteIQStrategy's)."""
    current = router.__dict__.get(name)
    if current is not None and not isinstance(getattr(current, "__self__", None), RouteIQStrategy):
        return current
    return getattr(type(router), name).__get__(router)


class RouteIQStrategy(CustomRoutingStrategyBase):
    """A LiteLLM custom routing strategy backed by the RouteIQ sidecar.

    Args:
        router: the ``litellm.Router`` to route for (install with ``install`` or
            ``router.set_custom_routing_strategy``).
        url: sidecar address; default ``http://127.0.0.1:8080`` (http) or
            ``127.0.0.1:50051`` (grpc).
        timeout_ms: longest wait for a decision before falling back.
        transport: ``"http"`` or ``"grpc"`` (``pip install routeiq-litellm[grpc]``).
        profile, strategy: defaults sent with every request (per request, metadata keys
            ``routeiq_profile`` / ``routeiq_strategy`` win).
        api_key: bearer token when the sidecar has ``auth_token`` set.
        breaker_failures, breaker_reset_s: open the circuit after this many consecutive
            failures, probe again after this many seconds.
        deadline_ms: sent as ``deadline_ms`` (0 = none): past it the sidecar answers with its
            fallback rule (``degraded``) instead of letting the stub time out.
        skip_single: with one usable deployment, skip the sidecar (nothing to decide).
    """

    def __init__(
        self,
        router: Any,
        url: str | None = None,
        timeout_ms: float = 50,
        transport: str = "http",
        *,
        profile: str = "",
        strategy: str = "",
        api_key: str | None = None,
        breaker_failures: int = 5,
        breaker_reset_s: float = 10.0,
        deadline_ms: int = 0,
        skip_single: bool = True,
        model_info_lookup: ModelInfoLookup | None = None,
        transport_impl: Transport | None = None,
    ) -> None:
        if timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be > 0, got {timeout_ms}")
        self.router = router
        self.timeout_s = timeout_ms / 1000.0
        self.transport_name = transport
        self.transport: Transport = transport_impl or make_transport(transport, url, api_key)
        self.profile = profile
        self.strategy = strategy
        self.deadline_ms = deadline_ms
        self.skip_single = skip_single
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s)
        self.stats = Stats()
        self._lookup = CachedLookup(model_info_lookup or litellm_model_info)
        self._usual_sync: SyncSelect = _usual_selection(router, "get_available_deployment")
        self._usual_async: AsyncSelect = _usual_selection(router, "async_get_available_deployment")
        self.last_decision: Decision | None = None
        self.feedback_logger: Any = None  # set by install(feedback=True)
        self.source = uuid.uuid4().hex[:12]  # tags this strategy's decisions for its logger
        self._warned: set[Outcome] = set()

    # ---- LiteLLM entry points -------------------------------------------------------------

    async def async_get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[Any] | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Deployment:
        kwargs: dict[str, Any] = request_kwargs if request_kwargs is not None else {}
        if _IN_FALLBACK.get():
            return await self._usual_async(
                model=model, messages=messages, input=input,
                specific_deployment=specific_deployment, request_kwargs=kwargs,
            )
        forget_decision(kwargs)
        snapshot = KwargsSnapshot(kwargs)
        try:
            healthy = await healthy_deployments_async(
                self.router, model, messages, input, specific_deployment, kwargs
            )
        except Exception as exc:  # LiteLLM's own verdict (no deployments...) or an API change
            self._count_lookup_error(exc)
            return await self._fallback_async(snapshot, model, messages, input,
                                              specific_deployment, kwargs)
        picked = self._trivial(healthy)
        if picked is not None:
            return picked
        assert isinstance(healthy, list)
        if not self.breaker.allow():
            self._fell_back(Outcome.BREAKER_OPEN, "circuit breaker open")
            return await self._fallback_async(snapshot, model, messages, input,
                                              specific_deployment, kwargs)
        try:
            body, by_id = self._request(model, healthy, messages, input, kwargs)
            decision = await self.transport.aroute(body, self.timeout_s)
            return self._accept(decision, by_id, kwargs)
        except Exception as exc:
            self._failed(exc)
            return await self._fallback_async(snapshot, model, messages, input,
                                              specific_deployment, kwargs)

    def get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[Any] | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Deployment:
        kwargs: dict[str, Any] = request_kwargs if request_kwargs is not None else {}
        if _IN_FALLBACK.get():
            return self._usual_sync(
                model=model, messages=messages, input=input,
                specific_deployment=specific_deployment, request_kwargs=kwargs,
            )
        forget_decision(kwargs)
        snapshot = KwargsSnapshot(kwargs)
        try:
            healthy = healthy_deployments_sync(
                self.router, model, messages, input, specific_deployment, kwargs
            )
        except Exception as exc:
            self._count_lookup_error(exc)
            return self._fallback_sync(
                snapshot, model, messages, input, specific_deployment, kwargs
            )
        picked = self._trivial(healthy)
        if picked is not None:
            return picked
        assert isinstance(healthy, list)
        if not self.breaker.allow():
            self._fell_back(Outcome.BREAKER_OPEN, "circuit breaker open")
            return self._fallback_sync(
                snapshot, model, messages, input, specific_deployment, kwargs
            )
        try:
            body, by_id = self._request(model, healthy, messages, input, kwargs)
            decision = self.transport.route(body, self.timeout_s)
            return self._accept(decision, by_id, kwargs)
        except Exception as exc:
            self._failed(exc)
            return self._fallback_sync(
                snapshot, model, messages, input, specific_deployment, kwargs
            )

    # ---- steps ----------------------------------------------------------------------------

    def _trivial(self, healthy: list[Deployment] | Deployment) -> Deployment | None:
        """The answer when there is nothing to decide: a pinned deployment, or a single one."""
        if isinstance(healthy, dict):
            self.stats.count(Outcome.SKIPPED)
            return healthy
        if len(healthy) == 1 and self.skip_single:
            self.stats.count(Outcome.SKIPPED)
            return healthy[0]
        return None

    def _request(
        self,
        model: str,
        healthy: list[Deployment],
        messages: Any,
        input: Any,
        kwargs: dict[str, Any],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        candidates, by_id = build_candidates(healthy, self._lookup)
        if not candidates:
            raise TransportError(Outcome.ERROR, "no deployment has a model_info.id")
        body = build_route_request(
            model_group=model,
            candidates=candidates,
            messages=messages,
            input=input,
            request_kwargs=kwargs,
            profile=self.profile,
            strategy=self.strategy,
            deadline_ms=self.deadline_ms,
        )
        return body, by_id

    def _accept(
        self, decision: Decision, by_id: dict[str, Any], kwargs: dict[str, Any]
    ) -> Deployment:
        deployment = by_id.get(decision.selected_id)
        if deployment is None:
            raise TransportError(
                Outcome.BAD_ANSWER, f"selected_id {decision.selected_id!r} is not a candidate"
            )
        self.breaker.record_success()
        self.stats.count(Outcome.ROUTED)
        self.last_decision = decision
        remember_decision(kwargs, decision.decision_id, decision.selected_id, self.source)
        for key in CONSUMED_KEYS:  # as LiteLLM's own selection leaves them
            kwargs.pop(key, None)
        return deployment

    def _failed(self, exc: Exception) -> None:
        outcome = exc.outcome if isinstance(exc, TransportError) else Outcome.ERROR
        if outcome is Outcome.REJECTED:
            self.breaker.record_success()  # the sidecar is up; this request was the problem
        else:
            self.breaker.record_failure()
        self._fell_back(outcome, str(exc) or type(exc).__name__)

    def _count_lookup_error(self, exc: Exception) -> None:
        # LiteLLM's own errors (no healthy deployment...) are raised again by its usual path.
        if type(exc).__module__.startswith("litellm"):
            self.stats.count(Outcome.SKIPPED)
        else:
            self._fell_back(Outcome.ERROR, f"listing deployments failed: {exc!r}")

    def _fell_back(self, outcome: Outcome, detail: str) -> None:
        self.stats.count(outcome)
        level = logging.WARNING if outcome not in self._warned else logging.DEBUG
        self._warned.add(outcome)
        log.log(level, "routeiq: falling back to LiteLLM's routing (%s): %s", outcome.value, detail)

    def _fallback_sync(
        self,
        snapshot: KwargsSnapshot,
        model: str,
        messages: Any,
        input: Any,
        specific_deployment: bool | None,
        kwargs: dict[str, Any],
    ) -> Deployment:
        snapshot.restore()
        token = _IN_FALLBACK.set(True)
        try:
            return self._usual_sync(
                model=model, messages=messages, input=input,
                specific_deployment=specific_deployment, request_kwargs=kwargs,
            )
        finally:
            _IN_FALLBACK.reset(token)

    async def _fallback_async(
        self,
        snapshot: KwargsSnapshot,
        model: str,
        messages: Any,
        input: Any,
        specific_deployment: bool | None,
        kwargs: dict[str, Any],
    ) -> Deployment:
        snapshot.restore()
        token = _IN_FALLBACK.set(True)
        try:
            return await self._usual_async(
                model=model, messages=messages, input=input,
                specific_deployment=specific_deployment, request_kwargs=kwargs,
            )
        finally:
            _IN_FALLBACK.reset(token)

    def close(self) -> None:
        self.transport.close()


def install(router: Any, *, feedback: bool = True, **kw: Any) -> RouteIQStrategy:
    """Create a ``RouteIQStrategy`` for ``router`` and make it the router's strategy.

    With ``feedback`` (default) a ``RouteIQFeedbackLogger`` sharing the strategy's connection
    is added to ``litellm.callbacks`` (replacing one an earlier ``install`` on the same router
    added), so every call this strategy routed reports its outcome.
    Keyword arguments are those of ``RouteIQStrategy``.
    """
    strategy = RouteIQStrategy(router, **kw)
    router.set_custom_routing_strategy(strategy)
    if feedback:
        import litellm

        from routeiq_litellm.feedback import RouteIQFeedbackLogger

        for cb in list(litellm.callbacks):  # an earlier install on this router is replaced
            if isinstance(cb, RouteIQFeedbackLogger) and cb.router is router:
                litellm.callbacks.remove(cb)
        strategy.feedback_logger = RouteIQFeedbackLogger(
            transport_impl=strategy.transport, source=strategy.source
        )
        strategy.feedback_logger.router = router
        litellm.callbacks.append(strategy.feedback_logger)
    return strategy


def installed_strategy(router: Any) -> RouteIQStrategy | None:
    """The RouteIQStrategy currently installed on ``router`` (None if LiteLLM reset it)."""
    bound = router.__dict__.get("async_get_available_deployment")
    owner = getattr(bound, "__self__", None)
    return owner if isinstance(owner, RouteIQStrategy) else None
