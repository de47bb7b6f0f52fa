"""Command-line flags for settings, shared by every subcommand that takes them."""

from __future__ import annotations

import argparse
from pathlib import Path

from routeiq_sidecar.config import Settings, load_settings

# flag name -> settings field, shared by the commands that take them
SERVE_FLAGS: dict[str, tuple[str, type]] = {
    "--http-host": ("http_host", str),
    "--http-port": ("http_port", int),
    "--grpc-host": ("grpc_host", str),
    "--grpc-port": ("grpc_port", int),
    "--bundle": ("bundle", Path),
    "--workers": ("workers", int),
    "--catalogue": ("catalogue", Path),
    "--home": ("home", Path),
    "--log-level": ("log_level", str),
    "--encoder": ("encoder", str),
    "--cascade-margin": ("cascade_margin", float),
    "--encoder-precision": ("encoder_precision", str),
    "--strategy": ("default_strategy", str),
}


def add_setting_flags(
    p: argparse.ArgumentParser, names: tuple[str, ...] = tuple(SERVE_FLAGS)
) -> None:
    """``--config`` and the flags ``names``, each overriding the settings field it maps to."""
    p.add_argument("--config", type=Path, help="YAML settings file (flags override it)")
    for flag in names:
        field, typ = SERVE_FLAGS[flag]
        desc = Settings.model_fields[field].description or ""
        p.add_argument(
            flag, dest=field, type=typ, default=None, help=f"{desc} [ROUTEIQ_{field.upper()}]"
        )


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings: defaults < ``--config`` file < environment < the flags given."""
    overrides = {f: getattr(args, f, None) for f, _ in SERVE_FLAGS.values()}
    return load_settings(getattr(args, "config", None), **overrides)
