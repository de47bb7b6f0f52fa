"""``RouteIQPlugin``: the proxy path, a LiteLLM ``RoutingPlugin`` (``router_settings.plugins``).

LiteLLM runs its routing plugins before it picks a deployment, with a ``RoutingContext``:
``raw_messages``, ``structured_messages`` (OpenAI chat shape), ``candidate_models`` (the
``litellm_params.model`` of the group's deployments), the request ``metadata`` (with
``model_group``) and ``signals``. LiteLLM then picks only among deployments whose model is
still in ``candidate_models``. The plugin asks the sidecar to rank the group's usable models
and keeps the ``top_k`` best (the selected one first), so LiteLLM's own strategy, cooldowns,
tags and budgets still choose among them; ``signals["routeiq"]`` carries the decision id,
the ranking and the reason (LiteLLM stores it as ``metadata["routing_plugin_signals"]``).

It fails open: sidecar slow (``timeout_ms``), down, answering garbage, or the breaker open ->
``candidate_models`` is left as it came and the fallback is counted (``fallbacks.py``).
Model groups not in ``model_groups`` (when set), and groups with fewer than two usable models,
pass untouched.

Listed in ``litellm_settings.callbacks`` too (the same object), it posts each routed call's
outcome to the sidecar's feedback endpoint and adds ``x-routeiq-decision-id`` to the answer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from routeiq_litellm import compat
from routeiq_litellm.breaker import CircuitBreaker
from routeiq_litellm.candidates import CachedLookup, ModelInfoLookup, build_candidates
from routeiq_litellm.candidates import litellm_model_info as _default_lookup
from routeiq_litellm.fallbacks import FallbackReporter
from routeiq_litellm.feedback import RouteIQFeedbackLogger
from routeiq_litellm.request import (
    SIGNALS_KEY,
    SOURCE_KEY,
    build_route_request,
    plugin_decision,
)
from routeiq_litellm.settings import PluginSettings
from routeiq_litellm.stats import Outcome, Stats
from routeiq_litellm.transport import Decision, Transport, TransportError, make_transport

log = logging.getLogger("routeiq_litellm.plugin")

DECISION_HEADER = "x-routeiq-decision-id"
Deployment = dict[str, Any]


def _proxy_router() -> Any:
    """The LiteLLM proxy's router (None outside the proxy, or before it built one)."""
    try:
        from litellm.proxy import proxy_server
    except Exception:  # the proxy extra is not installed: an SDK user
        return None
    return getattr(proxy_server, "llm_router", None)


def _model_of(deployment: Mapping[str, Any]) -> str:
    return str((deployment.get("litellm_params") or {}).get("model") or "")


class _Skip(Exception):
    """Nothing for RouteIQ to decide: the context passes untouched (not a fallback)."""


class RouteIQPlugin(RouteIQFeedbackLogger):
    """A LiteLLM ``RoutingPlugin`` backed by the RouteIQ sidecar (see the module docstring).

    ``router``: the Router to read usable deployments from; None = the proxy's router.
    Keyword arguments override ``PluginSettings`` fields.
    """

    def __init__(
        self,
        settings: PluginSettings | None = None,
        *,
        router: Any = None,
        transport_impl: Transport | None = None,
        model_info_lookup: ModelInfoLookup | None = None,
        **overrides: Any,
    ) -> None:
        s = dataclasses.replace(settings or PluginSettings(), **overrides)
        self.settings = s
        transport = transport_impl or make_transport(
            s.transport, s.url or None, s.api_key or None, s.connect_timeout_ms / 1000.0
        )
        super().__init__(
            transport_impl=transport, timeout_ms=s.feedback_timeout_ms, max_queue=s.feedback_queue
        )
        self.source = f"plugin-{id(self):x}"
        self.router = router
        self.timeout_s = s.timeout_ms / 1000.0
        self.breaker = CircuitBreaker(s.breaker_failures, s.breaker_reset_s)
        self.stats = Stats()
        self.fallbacks = FallbackReporter(self.stats, s.warn_interval_s)
        self._lookup = CachedLookup(model_info_lookup or _default_lookup)
        self._groups = s.managed_groups
        self.last_decision: Decision | None = None

    @classmethod
    def from_env(cls) -> RouteIQPlugin:
        return cls(PluginSettings.from_env())

    def warm(self, timeout_s: float = 2.0) -> bool:
        """Open the connection to the sidecar now (False, and no error, if it is not up)."""
        try:
            return self.transport_impl.warm(timeout_s)
        except Exception:
            log.debug("routeiq: warm-up failed", exc_info=True)
            return False

    # ---- the RoutingPlugin contract ---------------------------------------------------------

    async def run(self, context: Any) -> Any:
        try:
            by_model, body = await self._prepare(context)
        except _Skip:
            self.fallbacks.skipped()
            return context
        except Exception as exc:  # a LiteLLM API change, a bug: LiteLLM routes on its own
            self.fallbacks.fell_back(Outcome.ERROR, f"preparing the request failed: {exc!r}")
            return context
        if not self.breaker.allow():
            self.fallbacks.fell_back(Outcome.BREAKER_OPEN, "circuit breaker open")
            return context
        try:
            decision = await self.transport_impl.aroute(body, self.timeout_s)
            if decision.selected_id not in by_model:
                raise TransportError(
                    Outcome.BAD_ANSWER, f"selected_id {decision.selected_id!r} is not a candidate"
                )
        except Exception as exc:
            outcome = exc.outcome if isinstance(exc, TransportError) else Outcome.ERROR
            if outcome is Outcome.REJECTED:
                self.breaker.record_success()  # the sidecar is up; this request was the problem
            else:
                self.breaker.record_failure()
            self.fallbacks.fell_back(outcome, str(exc) or type(exc).__name__)
            return context
        self.breaker.record_success()
        self._narrow(context, decision, by_model)
        self.fallbacks.routed()
        self.last_decision = decision
        return context

    # ---- steps ------------------------------------------------------------------------------

    def _manages(self, group: str) -> bool:
        return not self._groups or group in self._groups

    async def _prepare(
        self, context: Any
    ) -> tuple[dict[str, list[Deployment]], dict[str, Any]]:
        """The usable models (one candidate each) and the ``RouteRequest`` body."""
        metadata: Mapping[str, Any] = context.metadata or {}
        group = str(metadata.get("model_group") or "")
        models = list(dict.fromkeys(str(m) for m in context.candidate_models))
        if len(models) < 2 or not self._manages(group):
            raise _Skip
        deployments = await self._usable(group, context, metadata)
        by_model: dict[str, list[Deployment]] = {}
        for d in deployments:
            model = _model_of(d)
            if model in models:
                by_model.setdefault(model, []).append(d)
        if len(by_model) < 2:
            raise _Skip
        # One candidate per model (LiteLLM narrows by model): its id is the model string.
        reps = [
            {**d[0], "model_info": {**(d[0].get("model_info") or {}), "id": m}}
            for m, d in by_model.items()
        ]
        candidates, _ = build_candidates(reps, self._lookup)
        s = self.settings
        body = build_route_request(
            model_group=group,
            candidates=candidates,
            messages=context.structured_messages or context.raw_messages or None,
            request_kwargs={"metadata": dict(metadata)},
            profile=s.profile,
            strategy=s.strategy,
            deadline_ms=s.deadline_ms,
        )
        return by_model, body

    async def _usable(
        self, group: str, context: Any, metadata: Mapping[str, Any]
    ) -> list[Deployment]:
        """The group's deployments LiteLLM would pick from now (so the plugin never narrows to
        deployments in cooldown); the configured ones if LiteLLM cannot list them."""
        router = self.router if self.router is not None else _proxy_router()
        if router is None:
            return [{"litellm_params": {"model": m}, "model_info": {"id": m}}
                    for m in context.candidate_models]
        try:
            healthy = await compat.healthy_deployments(
                router, group, {"metadata": dict(metadata)},
                messages=context.structured_messages or None,
            )
        except Exception as exc:
            if type(exc).__module__.startswith("litellm"):
                raise _Skip from None  # nothing usable: LiteLLM answers with its own error
            return compat.group_deployments(router, group)
        return [healthy] if isinstance(healthy, Mapping) else list(healthy)

    def _narrow(
        self,
        context: Any,
        decision: Decision,
        by_model: dict[str, list[Deployment]],
    ) -> None:
        top = [m for m in decision.top(self.settings.top_k) if m in by_model]
        context.candidate_models = [m for m in context.candidate_models if m in top]
        ranking = [m for m in decision.ranking if m in by_model] or top
        context.signals["routeiq"] = {
            "decision_id": decision.decision_id,
            "selected_model": decision.selected_id,
            "top": top,
            "ranking": ranking,
            "reason": decision.reason,
            "strategy": decision.strategy,
            "degraded": decision.degraded,
            # for the feedback logger: the deployments that run the sidecar's choice
            "deployment_ids": [
                str((d.get("model_info") or {}).get("id"))
                for d in by_model[decision.selected_id]
                if (d.get("model_info") or {}).get("id") is not None
            ],
            SOURCE_KEY: self.source,
        }

    # ---- the callback side (litellm_settings.callbacks) ----------------------------------------

    def report_outcome(self, kwargs: Any, start_time: Any, end_time: Any, success: bool) -> None:
        if self.settings.feedback:
            super().report_outcome(kwargs, start_time, end_time, success)

    async def async_post_call_response_headers_hook(
        self,
        data: dict[str, Any],
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict[str, str] | None = None,
        litellm_call_info: dict[str, Any] | None = None,
    ) -> dict[str, str] | None:
        for key in ("metadata", "litellm_metadata"):
            meta = data.get(key)
            found = plugin_decision(meta) if isinstance(meta, Mapping) else None
            if found is not None and found.get(SOURCE_KEY) == self.source:
                return {DECISION_HEADER: str(found["decision_id"])}
        return None


__all__ = ["DECISION_HEADER", "SIGNALS_KEY", "RouteIQPlugin"]
