"""Render the example envoy.yaml for other addresses (used by the tests and the hop benchmark).

    python render.py --listen 127.0.0.1:10000 --routeiq 127.0.0.1:50051 \
        --upstream cheap=127.0.0.1:8001 --upstream strong=127.0.0.1:8002 > envoy.yaml

Edits the parsed file (only pyyaml needed), so the example stays a plain, runnable Envoy config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "envoy.yaml"
EXT_PROC = "envoy.filters.http.ext_proc"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _set_address(sock: dict[str, Any], address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {address!r}")
    sock["address"], sock["port_value"] = host.strip("[]"), int(port)


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    listener = config["static_resources"]["listeners"][0]
    hcm: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm


def render(
    config: dict[str, Any],
    *,
    listen: str | None = None,
    admin: str | None = None,
    routeiq: str | None = None,
    upstreams: dict[str, str] | None = None,
    failure_mode_allow: bool | None = None,
    message_timeout_ms: int | None = None,
    ext_proc: bool = True,
) -> dict[str, Any]:
    """``config`` with the given addresses and ext_proc settings (changed in place, returned)."""
    resources = config["static_resources"]
    if listen:
        _set_address(resources["listeners"][0]["address"]["socket_address"], listen)
    if admin:
        _set_address(config["admin"]["address"]["socket_address"], admin)
    clusters = {c["name"]: c for c in resources["clusters"]}
    targets = dict(upstreams or {})
    if routeiq:
        targets["routeiq"] = routeiq
    for name, address in targets.items():
        if name not in clusters:
            raise ValueError(f"no cluster {name!r} in the config (have: {', '.join(clusters)})")
        endpoint = clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
        _set_address(endpoint["endpoint"]["address"]["socket_address"], address)
    hcm = _hcm(config)
    filters = hcm["http_filters"]
    if not ext_proc:
        hcm["http_filters"] = [f for f in filters if f["name"] != EXT_PROC]
        return config
    proc = next(f for f in filters if f["name"] == EXT_PROC)["typed_config"]
    if failure_mode_allow is not None:
        proc["failure_mode_allow"] = failure_mode_allow
    if message_timeout_ms is not None:
        proc["message_timeout"] = f"{message_timeout_ms / 1000:g}s"
    return config


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--template", type=Path, default=TEMPLATE)
    p.add_argument("--listen", help="HOST:PORT of the LLM listener")
    p.add_argument("--admin", help="HOST:PORT of Envoy's admin interface")
    p.add_argument("--routeiq", help="HOST:PORT of the sidecar's gRPC port")
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT",
        help="address of the deployment cluster NAME (repeat)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fail-open", dest="fail", action="store_const", const=True)
    mode.add_argument("--fail-closed", dest="fail", action="store_const", const=False)
    p.add_argument("--message-timeout-ms", type=int)
    p.add_argument("--no-ext-proc", action="store_true", help="Envoy alone (baseline)")
    a = p.parse_args(argv)
    ups = dict(u.split("=", 1) for u in a.upstream)
    config = render(
        load(a.template),
        listen=a.listen,
        admin=a.admin,
        routeiq=a.routeiq,
        upstreams=ups,
        failure_mode_allow=a.fail,
        message_timeout_ms=a.message_timeout_ms,
        ext_proc=not a.no_ext_proc,
    )
    sys.stdout.write(dump(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
