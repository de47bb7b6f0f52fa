"""The LiteLLM proxy entry point, named in the proxy's config file (config alone, no code):

    router_settings:
      plugins: ["routeiq_litellm.proxy.routeiq"]      # routes: narrows each call's candidates
    litellm_settings:
      callbacks: ["routeiq_litellm.proxy.routeiq"]    # optional: feedback + decision header

Both name the same ``RouteIQPlugin`` object, configured from ``ROUTEIQ_LITELLM_*`` environment
variables (``settings.PluginSettings``). It opens its connection to the sidecar when the proxy
loads it (a sidecar that is not up yet is no error). To configure it in code instead, build
``RouteIQPlugin(url=..., timeout_ms=...)`` in a module next to the config and name that.
"""

from __future__ import annotations

import threading

from routeiq_litellm.plugin import DECISION_HEADER, RouteIQPlugin
from routeiq_litellm.settings import PluginSettings

routeiq = RouteIQPlugin.from_env()
# Warm in the background: the proxy's start must not wait for a sidecar starting beside it.
threading.Thread(target=routeiq.warm, name="routeiq-warm", daemon=True).start()

__all__ = ["DECISION_HEADER", "PluginSettings", "RouteIQPlugin", "routeiq"]
