"""RouteIQ for LiteLLM: a custom routing strategy that asks the RouteIQ sidecar which
deployment should serve each call, plus a feedback logger. Never fails a call: when the
sidecar is slow, down or wrong, LiteLLM's usual routing takes over (and it is counted).

SDK::

    from routeiq_litellm import install
    strategy = install(router, url="http://127.0.0.1:8080", timeout_ms=50)

Proxy (config.yaml)::

    litellm_settings:
      callbacks: ["routeiq_litellm.proxy.routeiq_hook"]
"""

from __future__ import annotations

from routeiq_litellm.breaker import BreakerState, CircuitBreaker
from routeiq_litellm.feedback import RouteIQFeedbackLogger
from routeiq_litellm.stats import Outcome
from routeiq_litellm.strategy import RouteIQStrategy, install, installed_strategy
from routeiq_litellm.transport import Decision, TransportError

__version__ = "0.1.0"

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Decision",
    "Outcome",
    "RouteIQFeedbackLogger",
    "RouteIQStrategy",
    "TransportError",
    "__version__",
    "install",
    "installed_strategy",
]
