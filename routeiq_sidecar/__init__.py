"""RouteIQ: a standalone routing-decision sidecar for LLM gateways."""

__version__ = "0.1.0"
