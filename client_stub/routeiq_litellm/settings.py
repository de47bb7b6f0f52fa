"""The proxy plugin's settings, read from ``ROUTEIQ_LITELLM_*`` environment variables (the
LiteLLM proxy config names the plugin by import path, so it takes no arguments there)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ENV_PREFIX = "ROUTEIQ_LITELLM_"
# The longest wait for a decision (plugin and strategy), sized from the measured p99 decision
# round trip with the default bundle (docs/benchmarks.md, "LiteLLM stub overhead": REST, whole
# prompts, a busy 2-core machine: p99 499 ms; chat-sized prompts: 138 ms). README, "Timeout".
DEFAULT_TIMEOUT_MS = 500.0


@dataclass(frozen=True)
class PluginSettings:
    """Environment variable = ``ROUTEIQ_LITELLM_`` + the upper-case field name."""

    url: str = ""  # "" = http://127.0.0.1:8080 (http) or 127.0.0.1:50051 (grpc)
    transport: str = "http"
    timeout_ms: float = DEFAULT_TIMEOUT_MS
    connect_timeout_ms: float = 1000.0  # extra, for a call that opens the connection
    profile: str = ""
    strategy: str = ""
    api_key: str = ""
    breaker_failures: int = 5
    breaker_reset_s: float = 10.0
    deadline_ms: int = 0
    top_k: int = 2  # the plugin keeps this many of the ranked models (LiteLLM picks among them)
    model_groups: str = ""  # comma-separated groups RouteIQ routes; "" = every group
    warn_interval_s: float = 60.0
    feedback: bool = True
    feedback_timeout_ms: float = 1000.0
    feedback_queue: int = 1000

    def __post_init__(self) -> None:
        problems = [
            f"{name}={getattr(self, name)!r} ({rule})"
            for name, ok, rule in (
                ("transport", self.transport in ("http", "grpc"), "http or grpc"),
                ("timeout_ms", self.timeout_ms > 0, "must be > 0"),
                ("connect_timeout_ms", self.connect_timeout_ms >= 0, "must be >= 0"),
                ("breaker_failures", self.breaker_failures >= 1, "must be >= 1"),
                ("breaker_reset_s", self.breaker_reset_s >= 0, "must be >= 0"),
                ("deadline_ms", self.deadline_ms >= 0, "must be >= 0"),
                ("top_k", self.top_k >= 1, "must be >= 1"),
                ("warn_interval_s", self.warn_interval_s >= 0, "must be >= 0"),
                ("feedback_timeout_ms", self.feedback_timeout_ms > 0, "must be > 0"),
                ("feedback_queue", self.feedback_queue >= 1, "must be >= 1"),
            )
            if not ok
        ]
        if problems:
            raise ValueError("routeiq_litellm settings: " + "; ".join(problems))

    @property
    def managed_groups(self) -> frozenset[str]:
        return frozenset(g.strip() for g in self.model_groups.split(",") if g.strip())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PluginSettings:
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
