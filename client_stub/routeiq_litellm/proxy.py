"""LiteLLM proxy integration, loaded from the proxy's config file:

    litellm_settings:
      callbacks: ["routeiq_litellm.proxy.routeiq_hook"]

The proxy builds its Router after it loads callbacks, and may rebuild or reset it later
(model or settings updates), so the hook installs ``RouteIQStrategy`` on
``litellm.proxy.proxy_server.llm_router`` in ``async_pre_call_hook``, which the proxy runs
before routing every request; a check of one attribute when it is already in place.
The same object reports feedback and adds ``x-routeiq-decision-id`` to the proxy's answers.

``routeiq_hook`` is configured from ``ROUTEIQ_LITELLM_*`` environment variables
(see ``HookSettings``); build your own ``RouteIQProxyHook(...)`` in a module next to the
config file to pass arguments in code instead.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from routeiq_litellm.feedback import RouteIQFeedbackLogger
from routeiq_litellm.request import DECISION_KEY, SOURCE_KEY
from routeiq_litellm.strategy import RouteIQStrategy, installed_strategy
from routeiq_litellm.transport import make_transport

log = logging.getLogger("routeiq_litellm.proxy")

ENV_PREFIX = "ROUTEIQ_LITELLM_"
DECISION_HEADER = "x-routeiq-decision-id"


@dataclass(frozen=True)
class HookSettings:
    """The stub's settings; environment variable = ``ROUTEIQ_LITELLM_`` + upper-case name."""

    url: str = ""  # "" = http://127.0.0.1:8080 (http) or 127.0.0.1:50051 (grpc)
    transport: str = "http"
    timeout_ms: float = 50.0
    profile: str = ""
    strategy: str = ""
    api_key: str = ""
    breaker_failures: int = 5
    breaker_reset_s: float = 10.0
    deadline_ms: int = 0
    feedback: bool = True
    feedback_timeout_ms: float = 1000.0
    feedback_queue: int = 1000

    def __post_init__(self) -> None:
        problems = [
            f"{name}={getattr(self, name)!r} ({rule})"
            for name, ok, rule in (
                ("transport", self.transport in ("http", "grpc"), "http or grpc"),
                ("timeout_ms", self.timeout_ms > 0, "must be > 0"),
                ("breaker_failures", self.breaker_failures >= 1, "must be >= 1"),
                ("breaker_reset_s", self.breaker_reset_s >= 0, "must be >= 0"),
                ("deadline_ms", self.deadline_ms >= 0, "must be >= 0"),
                ("feedback_timeout_ms", self.feedback_timeout_ms > 0, "must be > 0"),
                ("feedback_queue", self.feedback_queue >= 1, "must be >= 1"),
            )
            if not ok
        ]
        if problems:
            raise ValueError("routeiq_litellm settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HookSettings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            kind = type(getattr(cls, f.name))
            try:
                if kind is bool:
                    if raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                        raise ValueError("expected true or false")
                    values[f.name] = raw.lower() in ("1", "true", "yes", "on")
                else:
                    values[f.name] = kind(raw)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: {exc}") from None
        return cls(**values)


class RouteIQProxyHook(RouteIQFeedbackLogger):
    """Installs RouteIQ routing on the proxy's router, reports feedback, labels answers."""

    def __init__(self, settings: HookSettings | None = None, **overrides: Any) -> None:
        s = dataclasses.replace(settings or HookSettings(), **overrides)
        self.settings = s
        transport = make_transport(s.transport, s.url or None, s.api_key or None)
        super().__init__(
            transport_impl=transport,
            timeout_ms=s.feedback_timeout_ms,
            max_queue=s.feedback_queue,
        )
        self._install_lock = threading.Lock()
        self.strategy: RouteIQStrategy | None = None

    @classmethod
    def from_env(cls) -> RouteIQProxyHook:
        return cls(HookSettings.from_env())

    def ensure_installed(self, router: Any) -> RouteIQStrategy | None:
        """Install (or re-install after LiteLLM reset it) the strategy on ``router``."""
        if router is None:
            return None
        current = installed_strategy(router)
        if current is not None and current is self.strategy:
            return current
        with self._install_lock:
            current = installed_strategy(router)
            if current is not None and current is self.strategy:
                return current
            s = self.settings
            strategy = RouteIQStrategy(
                router,
                timeout_ms=s.timeout_ms,
                profile=s.profile,
                strategy=s.strategy,
                breaker_failures=s.breaker_failures,
                breaker_reset_s=s.breaker_reset_s,
                deadline_ms=s.deadline_ms,
                transport_impl=self.transport_impl,
            )
            if self.strategy is not None:  # keep counters and breaker across re-installs
                strategy.stats, strategy.breaker = self.strategy.stats, self.strategy.breaker
                strategy.source = self.strategy.source
            self.source = strategy.source
            router.set_custom_routing_strategy(strategy)
            self.strategy = strategy
            log.info("routeiq: routing installed on the proxy router (%s)", s.transport)
            return strategy

    def _report(self, kwargs: Any, start_time: Any, end_time: Any, success: bool) -> None:
        if self.settings.feedback and self.strategy is not None:
            super()._report(kwargs, start_time, end_time, success)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> None:
        try:
            from litellm.proxy import proxy_server

            self.ensure_installed(proxy_server.llm_router)
        except Exception:  # the proxy goes on with LiteLLM's routing
            log.warning("routeiq: could not install the routing strategy", exc_info=True)
        return None

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
            if (
                isinstance(meta, Mapping)
                and meta.get(DECISION_KEY)
                and meta.get(SOURCE_KEY) == self.source
            ):
                return {DECISION_HEADER: str(meta[DECISION_KEY])}
        return None


routeiq_hook = RouteIQProxyHook.from_env()
