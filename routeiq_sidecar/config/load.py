"""Reading the settings once: ROUTEIQ_* environment, an optional YAML file, then flags.

Read once at start (``load_settings``) and passed down; no module reads the environment itself.
Precedence, highest first: command-line flags, environment, YAML file, defaults. A bad value is
a ConfigError naming the setting where it came from (flag, variable or key) and the value,
never a secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from routeiq_sidecar.config.settings import ENV_PREFIX, YAML_SOURCE, Settings
from routeiq_sidecar.config.urls import redact_url


class ConfigError(Exception):
    """Invalid settings: the message names the key and the value."""


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
    YAML_SOURCE["path"] = config_file
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(_format_error(err, dict(os.environ), overrides)) from None
    finally:
        YAML_SOURCE["path"] = None
