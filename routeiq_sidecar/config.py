"""The one typed settings object: ROUTEIQ_* environment, an optional YAML file, then flags.

Read once at start (``load_settings``) and passed down; no module reads the environment itself.
Precedence, highest first: command-line flags, environment, YAML file, defaults.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from platformdirs import user_cache_dir
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "ROUTEIQ_"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class ConfigError(Exception):
    """Invalid settings: the message names the key and the value."""


def _default_home() -> Path:
    return Path(user_cache_dir("routeiq"))


class ExperimentArm(BaseModel):
    """One arm of an experiment: a strategy and its share of the traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    strategy: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)


class Experiment(BaseModel):
    """A weighted split between strategies, optionally with a shadow strategy on every request.

    ``model_groups`` limits it to those groups (empty = every request that names no strategy).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arms: list[ExperimentArm] = Field(min_length=1)
    shadow_strategy: str = ""
    model_groups: list[str] = []

    @model_validator(mode="after")
    def _distinct_arms(self) -> Experiment:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r}: arm names must be distinct, got {names}")
        return self


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
    max_batch_size: int = Field(32, ge=1, le=512, description="Most prompts in one encoder call.")
    batch_wait_us: int = Field(
        0,
        ge=0,
        le=2_000_000,
        description="Extra wait for a batch to fill (microseconds); 0 = batch what is queued.",
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
        yaml_file = _YAML_FILE.get("path")
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


_YAML_FILE: dict[str, Path | None] = {"path": None}


REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")


def redis_url_problem(url: str) -> str | None:
    """Why ``redis_url`` cannot work, or None (the Sentinel form is parsed in
    state/redis_url.py when the store starts)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis+cluster", "rediss+cluster"):
        return (
            "Redis Cluster is not supported (the state's atomic scripts use keys in different "
            "hash slots): use one primary (redis://host:6379/0) or a Sentinel group "
            "(redis+sentinel://sentinel1:26379,sentinel2:26379/SERVICE)"
        )
    if scheme not in REDIS_SCHEMES:
        return f"unsupported scheme {scheme!r}: expected one of {', '.join(REDIS_SCHEMES)}"
    return None


def redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _format_error(err: ValidationError, env: dict[str, str], overrides: dict[str, Any]) -> str:
    lines = []
    for e in err.errors():
        if not e["loc"]:  # a rule across settings
            lines.append(f"invalid settings: {e['msg'].removeprefix('Value error, ')}")
            continue
        key = ".".join(str(p) for p in e["loc"])
        env_key = ENV_PREFIX + key.upper()
        if key in overrides:
            where, value = f"--{key.replace('_', '-')}", overrides[key]
        elif env_key in env:
            where, value = env_key, env[env_key]
        else:
            where, value = key, e.get("input")
        msg = e["msg"]
        if key == "redis_url" and isinstance(value, str):
            value = redact_url(value)  # never print its password
        if key == "auth_token":
            value = "***"  # never print a secret, not even a wrong one
        if e["type"] == "extra_forbidden":
            msg = "unknown setting"
        lines.append(f"invalid setting {where}={value!r}: {msg}")
    return "; ".join(lines)


def _check_yaml(path: Path) -> None:
    """A settings file that does not parse, or is not a mapping, is refused by name."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        where = f"--config={str(path)!r}"
        raise ConfigError(f"invalid setting {where}: not valid YAML ({exc})") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(
            f"invalid setting --config={str(path)!r}: expected a mapping of settings, "
            f"not {type(raw).__name__}"
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once; raises ConfigError naming the key and value on bad input."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"invalid setting --config={str(config_file)!r}: file not found")
    if config_file is not None:
        _check_yaml(config_file)
    _YAML_FILE["path"] = config_file
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(_format_error(err, dict(os.environ), overrides)) from None
    finally:
        _YAML_FILE["path"] = None
