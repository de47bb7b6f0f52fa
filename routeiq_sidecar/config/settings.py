"""The settings schema: every ROUTEIQ_* setting, its default, bounds and the rules across them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from routeiq_sidecar.config.experiments import Experiment
from routeiq_sidecar.config.urls import redact_url, redis_url_problem

ENV_PREFIX = "ROUTEIQ_"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _default_home() -> Path:
    return Path(user_cache_dir("routeiq"))


class Settings(BaseSettings):
    """Every setting of the sidecar. Field descriptions feed the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    # --- network
    http_host: str = Field("127.0.0.1", description="REST listen address.")
    http_port: int = Field(8080, ge=0, le=65535, description="REST port (0 picks a free port).")
    grpc_host: str = Field("127.0.0.1", description="gRPC listen address.")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 picks a free port).")
    workers: int = Field(1, ge=1, le=64, description="Processes sharing the ports.")
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto", description="Event loop of the server (auto: uvloop when installed)."
    )
    http_parser: Literal["auto", "h11", "httptools"] = Field(
        "auto", description="HTTP/1.1 parser of the REST server (auto: httptools when installed)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the JSON logs."
    )

    drain_grace_s: float = Field(
        10.0, ge=0, le=600, description="On SIGTERM, longest wait for in-flight requests."
    )
    auth_token: SecretStr | None = Field(
        None, description="Bearer token required on /v1/* and RouterService (unset = open)."
    )
    allow_insecure_bind: bool = Field(
        False, description="Allow a non-loopback bind without auth_token."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty = no CORS headers)."
    )
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "otlp_endpoint", "ROUTEIQ_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
        description="OTLP/gRPC endpoint for traces (also read from OTEL_EXPORTER_OTLP_ENDPOINT).",
    )
    log_decisions: bool = Field(True, description="One JSON log line per decision.")

    # --- model bundle
    bundle: Path | None = Field(
        None, description="Bundle folder; unset = the embedded default bundle (built once)."
    )
    home: Path = Field(
        default_factory=_default_home, description="Cache folder (default bundle lives here)."
    )
    catalogue: Path | None = Field(
        None, description="YAML catalogue of candidates per model group (server-side candidates)."
    )
    encoder: Literal["minilm", "static", "cascade"] = Field(
        "minilm",
        description="Encoder kind: minilm (the ONNX transformer), static (per-token vectors "
        "distilled from it, no transformer pass), cascade (static first, MiniLM when unsure).",
    )
    cascade_margin: float = Field(
        0.02,
        ge=0,
        le=1,
        description="cascade: run MiniLM when the static tier's best two eligible candidates "
        "are closer than this in utility (Classify: in category probability).",
    )
    encoder_precision: Literal["fp32", "int8"] = Field(
        "int8", description="Which encoder of the bundle runs (int8: faster, same decisions)."
    )
    intra_op_threads: int = Field(
        0, ge=0, le=256, description="onnxruntime intra-op threads (0 = cores / workers)."
    )
    max_seq_length: int = Field(
        256, ge=8, le=512, description="Tokens kept per prompt (longer text is truncated)."
    )

    # --- decisions
    default_strategy: str = Field(
        "", description="Strategy when a request names none (empty = the bundle's default)."
    )
    default_profile: Literal["auto", "eco", "premium", "free", "reasoning"] = Field(
        "auto", description="Profile when a request names none."
    )
    assumed_output_tokens: int = Field(
        300, ge=0, description="Output tokens assumed when estimating a request's cost."
    )

    # --- batching
    max_batch_size: int = Field(
        32, ge=1, le=512,
        description="Most prompts in one encoder call (and in one batched strategy prediction).",
    )
    batch_wait_us: int = Field(
        0,
        ge=0,
        le=2_000_000,
        description="Extra wait for a batch to fill (microseconds); 0 = batch what is queued.",
    )

    predict_on_loop_max_us: int = Field(
        1000, ge=0, le=100_000,
        description="A lone head prediction (the kNN scan) runs on the event loop, skipping two "
        "thread hand-offs, when no other request is waiting and runs of one take less than "
        "this (microseconds); 0 = always in the worker thread.",
    )
    predict_gather_us: int = Field(
        2000, ge=0, le=100_000,
        description="Under concurrent load (decisions keep finding others waiting, the last "
        "one within 20 ms), a head "
        "prediction run waits up to this long (microseconds) for more decisions to share its "
        "kNN scan, going at once when max_batch_size, or every decision under way in the "
        "worker, are waiting (at least 3 of them, or as many as the last 32-64 callers saw "
        "under way at most); 0 = never wait.",
    )

    embed_cache_size: int = Field(
        4096, ge=0, description="Embeddings kept in the LRU cache (0 = off)."
    )

    # --- limits
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest REST body accepted (413 beyond)."
    )
    max_messages: int = Field(1000, ge=1, description="Most messages in one request.")
    max_candidates: int = Field(256, ge=1, description="Most candidates in one request.")
    max_text_chars: int = Field(
        400_000, ge=1, description="Most characters of message text in one request."
    )
    max_in_flight: int = Field(
        256, ge=1, description="Requests served or queued at once; beyond, 429 at once."
    )
    default_deadline_ms: int = Field(
        0, ge=0, description="Deadline for requests that set none (0 = none)."
    )
    reload_poll_s: float = Field(
        0.0, ge=0, description="Check the bundle's manifest this often; reload on change (0 = off)."
    )
    reload_min_interval_s: float = Field(
        5.0, ge=0, description="Fewest seconds between two admin reloads (429 + Retry-After)."
    )
    header_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Longest wait for a request's complete headers "
        "(the connection is closed beyond)."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Longest wait for a REST body, read before admission "
        "(408 beyond)."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host header values accepted on /v1 (host or host:port; "
        "empty = any, except on a loopback bind: only localhost, 127.0.0.1, [::1])."
    )

    # --- state
    redis_url: str | None = Field(
        None,
        description="Redis URL for shared state: redis://, rediss://, unix://, or "
        "redis+sentinel://host:26379[,host2:26379]/SERVICE[/DB] (Cluster is refused); "
        "unset = memory (SQLite shared by the workers of one serve --workers N).",
    )
    state_path: Path | None = Field(
        None,
        description="SQLite file for state shared by the processes of one host (decisions for "
        "feedback, stickiness, learned statistics) when redis_url is unset. `serve --workers N` "
        "sets it to a file in its own temp folder; unset with one worker = memory.",
    )
    decision_ttl_s: int = Field(
        3600, ge=1, description="How long a decision can receive feedback (seconds)."
    )
    decision_log_size: int = Field(
        100_000, ge=1, description="Most decisions kept in memory for feedback."
    )

    # --- Envoy ext_proc
    ext_proc_deadline_ms: int = Field(
        100,
        ge=0,
        le=60_000,
        description="Deadline of one Envoy ext_proc decision; past it the fallback rule answers "
        "(degraded). Keep it below Envoy's message_timeout (0 = none).",
    )
    ext_proc_rewrite_model: bool = Field(
        False,
        description="ext_proc: also rewrite the body's model to the selected candidate's "
        "labels.upstream_model (else its model).",
    )
    ext_proc_feedback: bool = Field(
        True,
        description="ext_proc: record the upstream's status and latency as feedback when Envoy "
        "sends response headers.",
    )
    redis_timeout_ms: int = Field(
        100,
        ge=1,
        le=60_000,
        description="Bound on every Redis call; past it the request is routed without shared "
        "state (ms).",
    )
    redis_max_connections: int = Field(
        32, ge=1, le=10_000, description="Redis connection pool size per process."
    )
    redis_key_prefix: str = Field(
        "routeiq:", description="Prefix of every Redis key (several deployments can share one)."
    )
    sticky_ttl_s: int = Field(
        1800,
        ge=0,
        description="A session stays on its deployment this long after its last turn "
        "(seconds; 0 = no stickiness).",
    )
    session_cache_size: int = Field(
        100_000, ge=1, description="Most sessions kept for stickiness by the memory store."
    )
    memory_store_max_mb: int = Field(
        256, ge=1, description="About the most MiB the memory store keeps (decisions half, "
        "sessions and statistics a quarter each); the oldest entries go first beyond."
    )
    feedback_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Largest weight of observed feedback in a candidate's quality "
        "(0 = learning off).",
    )
    feedback_prior_strength: float = Field(
        10.0,
        gt=0,
        description="Outcomes after which observed feedback weighs as much as the prediction "
        "(k in n/(n+k)).",
    )
    feedback_window: int = Field(
        50,
        ge=1,
        description="About how many recent outcomes per model and category count "
        "(older ones fade geometrically).",
    )
    stats_half_life_s: float = Field(
        3600.0,
        ge=0,
        description="Feedback evidence not refreshed halves this often, so a shunned model "
        "is tried again (0 = never fades).",
    )
    stats_ttl_s: int = Field(
        604_800,
        ge=1,
        description="Per-model feedback statistics expire this long after their last update "
        "(seconds).",
    )
    experiments: list[Experiment] = Field(
        [],
        description="A/B experiments, a YAML or JSON list of {name, arms: [{name, strategy, "
        "weight}], shadow_strategy, model_groups}.",
    )

    @field_validator("experiments")
    @classmethod
    def _distinct_experiments(cls, v: list[Experiment]) -> list[Experiment]:
        names = [e.name for e in v]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment names must be distinct, got {names}")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url_supported(cls, v: str | None) -> str | None:
        if v:
            problem = redis_url_problem(v)
            if problem:
                raise ValueError(problem)
        return v

    @field_validator("auth_token")
    @classmethod
    def _token_usable(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None:
            return None
        token = v.get_secret_value()
        if not token.strip():
            raise ValueError("must not be empty or blank (unset it to run without auth)")
        if not (token.isascii() and token.isprintable()) or token != token.strip():
            raise ValueError(
                "must be printable ASCII without surrounding spaces (it travels in a header)"
            )
        return v

    @field_validator("event_loop", "http_parser")
    @classmethod
    def _installed(cls, v: str) -> str:
        if v in ("uvloop", "httptools") and importlib.util.find_spec(v) is None:
            raise ValueError(f"{v} is not installed (pip install {v}), or use auto")
        return v

    @field_validator("http_host", "grpc_host")
    @classmethod
    def _host_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    @model_validator(mode="after")
    def _distinct_ports(self) -> Settings:
        if self.http_port and self.http_port == self.grpc_port and self.http_host == self.grpc_host:
            raise ValueError("http_port and grpc_port must differ")
        exposed = [h for h in (self.http_host, self.grpc_host) if h not in LOOPBACK]
        if exposed and self.auth_token is None and not self.allow_insecure_bind:
            raise ValueError(
                f"binding {exposed[0]} (not loopback) needs auth_token, "
                "or allow_insecure_bind=true to accept an open port"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = YAML_SOURCE.get("path")
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    def summary(self) -> dict[str, str]:
        """Non-secret settings as strings (GetInfo, `config`)."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if name == "redis_url" and value:
                value = redact_url(str(value))
            if name == "auth_token" and value is not None:
                value = "***"
            out[name] = "" if value is None else str(value)
        return out


# The YAML file load_settings is reading (config/load.py), for settings_customise_sources.
YAML_SOURCE: dict[str, Path | None] = {"path": None}
