"""``RouteIQStrategy``: the SDK path. LiteLLM asks it for a deployment, it asks the sidecar.

The candidates are the deployments LiteLLM itself lists as usable for the call
(``compat.healthy_deployments``); the sidecar's ``selected_id`` is mapped back to that
deployment. Whatever goes wrong (timeout, connection error, 4xx/5xx, a bad answer, an open
circuit breaker) the strategy picks among the same usable deployments the way LiteLLM's
default ``simple-shuffle`` does (``shuffle.py``), counts why (``fallbacks.py``) and the call
goes on. Installed with ``install(router, ...)``: ``register_plugin`` where LiteLLM has it,
``set_custom_routing_strategy`` before, chosen by feature detection (``compat.py``).
"""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import Mapping
from typing import Any

from litellm.types.router import CustomRoutingStrategyBase

from routeiq_litellm import compat
from routeiq_litellm.breaker import CircuitBreaker
from routeiq_litellm.candidates import (
    CachedLookup,
    ModelInfoLookup,
    build_candidates,
    litellm_model_info,
)
from routeiq_litellm.fallbacks import FallbackReporter
from routeiq_litellm.request import build_route_request, forget_decision, remember_decision
from routeiq_litellm.settings import DEFAULT_TIMEOUT_MS
from routeiq_litellm.shuffle import shuffle_pick
from routeiq_litellm.stats import Outcome, Stats
from routeiq_litellm.transport import Decision, Transport, TransportError, make_transport

log = logging.getLogger("routeiq_litellm")

Deployment = dict[str, Any]
# Keys LiteLLM's selection consumes from request_kwargs: they must not reach the provider.
CONSUMED_KEYS = ("_target_order", "_excluded_deployment_ids", "_retry_skipped_deployment_ids")


class _Picked:
    """A deployment already chosen (by a fallback) before the sidecar could be asked."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment


_INSTALLED: weakref.WeakKeyDictionary[Any, RouteIQStrategy] = weakref.WeakKeyDictionary()


class RouteIQStrategy(CustomRoutingStrategyBase):
    """A LiteLLM custom routing strategy backed by the RouteIQ sidecar.

    Args:
        router: the ``litellm.Router`` to route for (install with ``install``).
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
        connect_timeout_ms: extra time for a call that opens the connection.
        warn_interval_s: at most one fallback WARNING line per interval.
    """

    def __init__(
        self,
        router: Any,
        url: str | None = None,
        timeout_ms: float = DEFAULT_TIMEOUT_MS,
        transport: str = "http",
        *,
        profile: str = "",
        strategy: str = "",
        api_key: str | None = None,
        breaker_failures: int = 5,
        breaker_reset_s: float = 10.0,
        deadline_ms: int = 0,
        skip_single: bool = True,
        connect_timeout_ms: float = 1000.0,
        warn_interval_s: float = 60.0,
        model_info_lookup: ModelInfoLookup | None = None,
        transport_impl: Transport | None = None,
    ) -> None:
        if timeout_ms <= 0:
            raise ValueError(f"timeout_ms must be > 0, got {timeout_ms}")
        self.router = router
        self.timeout_s = timeout_ms / 1000.0
        self.transport_name = transport
        self.transport: Transport = transport_impl or make_transport(
            transport, url, api_key, connect_timeout_ms / 1000.0
        )
        self.profile = profile
        self.strategy = strategy
        self.deadline_ms = deadline_ms
        self.skip_single = skip_single
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_s)
        self.stats = Stats()
        self.fallbacks = FallbackReporter(self.stats, warn_interval_s)
        self._lookup = CachedLookup(model_info_lookup or litellm_model_info)
        self.last_decision: Decision | None = None
        self.feedback_logger: Any = None  # set by install(feedback=True)
        self.source = uuid.uuid4().hex[:12]  # tags this strategy's decisions for its logger
        self.entry_point = ""  # the LiteLLM call install() used

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
        forget_decision(kwargs)
        healthy = self._settle(
            await self._healthy(model, messages, input, specific_deployment, kwargs)
        )
        if not isinstance(healthy, list):
            return healthy
        try:
            body, by_id = self._request(model, healthy, messages, input, kwargs)
            decision = await self.transport.aroute(body, self.timeout_s)
            return self._accept(decision, by_id, kwargs)
        except Exception as exc:
            return self._failed(healthy, exc)

    def get_available_deployment(  # type: ignore[override]
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[Any] | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, Any] | None = None,
    ) -> Deployment:
        kwargs: dict[str, Any] = request_kwargs if request_kwargs is not None else {}
        forget_decision(kwargs)
        healthy = self._settle(
            compat.run_sync(self._healthy(model, messages, input, specific_deployment, kwargs))
        )
        if not isinstance(healthy, list):
            return healthy
        try:
            body, by_id = self._request(model, healthy, messages, input, kwargs)
            decision = self.transport.route(body, self.timeout_s)
            return self._accept(decision, by_id, kwargs)
        except Exception as exc:
            return self._failed(healthy, exc)

    # ---- steps ----------------------------------------------------------------------------

    async def _healthy(
        self,
        model: str,
        messages: Any,
        input: Any,
        specific_deployment: bool | None,
        kwargs: dict[str, Any],
    ) -> list[Deployment] | Deployment | _Picked:
        """LiteLLM's usable deployments. LiteLLM's own refusal (nothing usable, a rate limit)
        is raised as LiteLLM would raise it; any other failure to list them is a fallback:
        a shuffle pick among the group's configured deployments."""
        try:
            return await compat.healthy_deployments(
                self.router, model, kwargs, messages, input, specific_deployment
            )
        except Exception as exc:
            if type(exc).__module__.startswith("litellm"):
                raise
            everything = compat.group_deployments(self.router, model)
            if not everything:
                raise
            self.fallbacks.fell_back(Outcome.ERROR, f"listing deployments failed: {exc!r}")
            return _Picked(dict(shuffle_pick(everything)))
        finally:
            for key in CONSUMED_KEYS:  # as LiteLLM's own selection leaves them
                kwargs.pop(key, None)

    def _settle(
        self, healthy: _Picked | list[Deployment] | Deployment
    ) -> list[Deployment] | Deployment:
        """The deployment when no sidecar call is needed (picked already, pinned, single,
        breaker open), else the healthy list the sidecar must rank."""
        if isinstance(healthy, _Picked):
            return healthy.deployment
        picked = self._trivial(healthy)
        if picked is not None:
            return picked
        assert isinstance(healthy, list)
        if not self.breaker.allow():
            return self._fallback(healthy, Outcome.BREAKER_OPEN, "circuit breaker open")
        return healthy

    def _trivial(self, healthy: list[Deployment] | Deployment) -> Deployment | None:
        """The answer when there is nothing to decide: a pinned deployment, or a single one."""
        if isinstance(healthy, Mapping):
            self.fallbacks.skipped()
            return dict(healthy)
        if len(healthy) == 1 and self.skip_single:
            self.fallbacks.skipped()
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
        self.fallbacks.routed()
        self.last_decision = decision
        remember_decision(kwargs, decision.decision_id, decision.selected_id, self.source)
        return dict(deployment)

    def _failed(self, healthy: list[Deployment], exc: Exception) -> Deployment:
        outcome = exc.outcome if isinstance(exc, TransportError) else Outcome.ERROR
        if outcome is Outcome.REJECTED:
            self.breaker.record_success()  # the sidecar is up; this request was the problem
        else:
            self.breaker.record_failure()
        return self._fallback(healthy, outcome, str(exc) or type(exc).__name__)

    def _fallback(self, healthy: list[Deployment], outcome: Outcome, detail: str) -> Deployment:
        self.fallbacks.fell_back(outcome, detail)
        return dict(shuffle_pick(healthy))

    def warm(self, timeout_s: float = 2.0) -> bool:
        """Open the connection to the sidecar now, so the first call does not pay for it."""
        try:
            return self.transport.warm(timeout_s)
        except Exception:
            log.debug("routeiq: warm-up failed", exc_info=True)
            return False

    def close(self) -> None:
        self.transport.close()


def install(router: Any, *, feedback: bool = True, warm: bool = True, **kw: Any) -> RouteIQStrategy:
    """Create a ``RouteIQStrategy`` for ``router`` and make it the router's strategy.

    ``register_plugin`` on LiteLLM releases that have it, ``set_custom_routing_strategy``
    before. With ``warm`` (default) the connection to the sidecar is opened now (a sidecar
    that is not up yet is no error). With ``feedback`` (default) a ``RouteIQFeedbackLogger``
    sharing the strategy's connection is added to ``litellm.callbacks`` (replacing one an
    earlier ``install`` on the same router added), so every call this strategy routed reports
    its outcome. Keyword arguments are those of ``RouteIQStrategy``.
    """
    strategy = RouteIQStrategy(router, **kw)
    if warm:
        strategy.warm()
    strategy.entry_point = compat.register_strategy(router, strategy)
    _INSTALLED[router] = strategy
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
    """The RouteIQStrategy ``install`` last put on ``router`` (None if never)."""
    return _INSTALLED.get(router)
