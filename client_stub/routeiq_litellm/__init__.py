"""RouteIQ for LiteLLM: routing decisions from the RouteIQ sidecar, on LiteLLM's public API.

Proxy (config alone)::

    router_settings:
      plugins: ["routeiq_litellm.proxy.routeiq"]
    litellm_settings:
      callbacks: ["routeiq_litellm.proxy.routeiq"]   # feedback + x-routeiq-decision-id

SDK::

    from routeiq_litellm import install
    strategy = install(router, url="http://127.0.0.1:8080")

Never fails a call: when the sidecar is slow, down or wrong, LiteLLM's routing takes over,
and every such fallback is counted (stats, a Prometheus counter, a rate-limited WARNING).
"""

from __future__ import annotations

from routeiq_litellm.breaker import BreakerState, CircuitBreaker
from routeiq_litellm.compat import SUPPORTED
from routeiq_litellm.feedback import RouteIQFeedbackLogger
from routeiq_litellm.plugin import RouteIQPlugin
from routeiq_litellm.settings import PluginSettings
from routeiq_litellm.stats import Outcome
from routeiq_litellm.strategy import RouteIQStrategy, install, installed_strategy
from routeiq_litellm.transport import Decision, TransportError

__version__ = "0.2.0"

__all__ = [
    "SUPPORTED",
    "BreakerState",
    "CircuitBreaker",
    "Decision",
    "Outcome",
    "PluginSettings",
    "RouteIQFeedbackLogger",
    "RouteIQPlugin",
    "RouteIQStrategy",
    "TransportError",
    "__version__",
    "install",
    "installed_strategy",
]
