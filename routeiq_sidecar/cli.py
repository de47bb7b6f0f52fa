"""The ``routeiq-sidecar`` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from routeiq_sidecar import __version__
from routeiq_sidecar.config import ConfigError, Settings
from routeiq_sidecar.errors import RouteIQError
from routeiq_sidecar.flags import add_setting_flags, settings_from

Handler = Callable[[argparse.Namespace], int]

# Commands defined in modules of their own, each with ``register(subparsers) -> None`` (which
# sets ``fn``, a Handler, on its parsers): name -> (module, the help line of the command list).
# A module is imported only when its command runs (training imports onnx, bench httpx), so
# ``--help`` and ``serve`` stay fast; the others are listed from this table.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "train": (
        "routeiq_sidecar.training.commands",
        "train routers (knn, mlp, mf) on routing data into a new bundle",
    ),
    "eval": (
        "routeiq_sidecar.training.commands",
        "APGR / CPT / AIQ of a trained bundle's strategies vs random, length, oracle",
    ),
    "bench": ("routeiq_sidecar.loadtest.commands", "load-test a running sidecar (REST and gRPC)"),
}


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)

# --- serve
def cmd_serve(args: argparse.Namespace) -> int:
    from routeiq_sidecar.app import run_forever, run_loop
    from routeiq_sidecar.supervisor import run_workers
    from routeiq_sidecar.telemetry.logs import setup_logging

    s = settings_from(args)
    setup_logging(s.log_level)
    if s.workers > 1:
        return run_workers(s)
    run_loop(run_forever(s), s.event_loop)
    return 0


# --- bundle
def cmd_bundle_build(args: argparse.Namespace) -> int:
    from routeiq_sidecar.bundle.build import build_bundle
    from routeiq_sidecar.bundle.default import ensure_default_bundle

    t0 = time.perf_counter()
    if args.out is None:
        s = settings_from(args)
        path = ensure_default_bundle(s.home)
        from routeiq_sidecar.bundle.manifest import verify

        manifest = verify(path)
    else:
        path = args.out
        manifest = build_bundle(path, encoder=args.source_encoder, name=args.name)
    print(
        json.dumps(
            {
                "bundle": str(path),
                "name": manifest["name"],
                "version": manifest["version"],
                "files": len(manifest["files"]),
                "seconds": round(time.perf_counter() - t0, 2),
            },
            indent=2,
        )
    )
    return 0


def cmd_bundle_verify(args: argparse.Namespace) -> int:
    from routeiq_sidecar.bundle.manifest import verify

    manifest = verify(args.path)
    print(
        json.dumps(
            {
                "bundle": str(args.path),
                "ok": True,
                "name": manifest["name"],
                "version": manifest["version"],
                "files": len(manifest["files"]),
            },
            indent=2,
        )
    )
    return 0


# --- route
def parse_candidates(specs: list[str], blob: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if blob:
        text = Path(blob[1:]).read_text() if blob.startswith("@") else blob
        import yaml

        raw = yaml.safe_load(text)
        if isinstance(raw, dict) and "candidates" in raw:
            raw = raw["candidates"]
        if not isinstance(raw, list):
            raise ValueError("--candidates must be a JSON/YAML list of candidates (or @file)")
        out.extend(raw)
    for spec in specs:
        cid, _, rest = spec.partition("=")
        parts = rest.rsplit(":", 2) if rest.count(":") >= 2 else [rest]
        item: dict[str, Any] = {"id": cid, "model": parts[0] or cid}
        if len(parts) == 3:
            item["input_cost_per_mtok"], item["output_cost_per_mtok"] = (
                float(parts[1]),
                float(parts[2]),
            )
        out.append(item)
    return out


def cmd_route(args: argparse.Namespace) -> int:
    from routeiq_sidecar.api import convert
    from routeiq_sidecar.app import load_from_settings
    from routeiq_sidecar.engine.catalogue import candidate_from_mapping, load_catalogue
    from routeiq_sidecar.engine.engine import Engine
    from routeiq_sidecar.types import RouteInput

    s = settings_from(args)
    raw = parse_candidates(args.candidate or [], args.candidates)
    cands = tuple(candidate_from_mapping(c, f"candidates[{i}]") for i, c in enumerate(raw))

    async def run() -> dict[str, Any]:
        bundle, strategies = load_from_settings(s)
        engine = Engine(s, bundle, load_catalogue(s.catalogue), strategies=strategies)
        try:
            d = await engine.route(
                RouteInput(
                    request_id="cli",
                    model_group=args.model_group,
                    prompt=args.prompt,
                    candidates=cands,
                    profile=args.profile or "",
                    strategy=args.use_strategy or "",
                )
            )
        finally:
            await engine.close()
        return convert.to_json_dict(convert.route_out(d))

    print(json.dumps(asyncio.run(run()), indent=2))
    return 0


# --- config
def settings_table() -> str:
    rows = ["| setting | environment | default | description |", "|---|---|---|---|"]
    for name, f in Settings.model_fields.items():
        default = (
            "cache dir (platformdirs)"
            if name == "home"
            else f.get_default(call_default_factory=True)
        )
        default = "" if default is None else default
        rows.append(f"| `{name}` | `ROUTEIQ_{name.upper()}` | `{default}` | {f.description} |")
    return "\n".join(rows) + "\n"


def cmd_config(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(settings_table())
        return 0
    print(json.dumps(settings_from(args).summary(), indent=2))
    return 0


def build_parser(load: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The command line; ``load``: the LAZY_COMMANDS whose modules to import for their real
    parsers (None: all of them); the others get a placeholder that only lists them."""
    p = argparse.ArgumentParser(
        prog="routeiq-sidecar",
        description="RouteIQ: a routing-decision sidecar for LLM gateways (REST + gRPC).",
    )
    p.add_argument("--version", action="version", version=f"routeiq-sidecar {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    serve = sub.add_parser("serve", help="run the sidecar (REST + gRPC)")
    add_setting_flags(serve)
    serve.set_defaults(fn=cmd_serve)

    bundle = sub.add_parser("bundle", help="build or verify model bundles")
    bsub = bundle.add_subparsers(dest="bundle_command", required=True, metavar="action")
    build = bsub.add_parser("build", help="build a bundle (no --out: the cached default bundle)")
    build.add_argument("--out", type=Path, default=None, help="target folder")
    build.add_argument(
        "--encoder",
        dest="source_encoder",
        default="minilm",
        choices=["minilm", "tiny-random"],
        help="encoder to export (tiny-random: for tests); the static encoder is always "
        "distilled from it",
    )
    build.add_argument("--name", default="routeiq-default", help="bundle name")
    add_setting_flags(build, ("--home",))
    build.set_defaults(fn=cmd_bundle_build)
    verify = bsub.add_parser("verify", help="check a bundle against its manifest")
    verify.add_argument("path", type=Path)
    verify.set_defaults(fn=cmd_bundle_verify)

    route = sub.add_parser("route", help="make one decision in-process and print it")
    route.add_argument("prompt")
    route.add_argument(
        "--candidate",
        action="append",
        metavar="ID=MODEL[:IN:OUT]",
        help="a candidate with prices per million tokens (repeatable)",
    )
    route.add_argument("--candidates", metavar="JSON|@FILE", help="a JSON/YAML list of candidates")
    route.add_argument("--model-group", default="", help="catalogue group when no candidates")
    route.add_argument("--profile", default=None, help="auto, eco, premium, free, reasoning")
    route.add_argument("--use-strategy", default=None, help="strategy for this decision")
    add_setting_flags(
        route, ("--bundle", "--catalogue", "--home", "--encoder", "--encoder-precision")
    )
    route.set_defaults(fn=cmd_route)

    config = sub.add_parser("config", help="print the effective settings")
    config.add_argument("--markdown", action="store_true", help="print the settings table (README)")
    add_setting_flags(config)
    config.set_defaults(fn=cmd_config)

    wanted = set(LAZY_COMMANDS) if load is None else set(load) & set(LAZY_COMMANDS)
    for module in dict.fromkeys(LAZY_COMMANDS[name][0] for name in sorted(wanted)):
        importlib.import_module(module).register(sub)
    for name, (_, line) in LAZY_COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=line, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = command_of(argv)
    args = build_parser(load=[command] if command else []).parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as err:
        print(f"routeiq-sidecar: {err}", file=sys.stderr)
        return 2
    except (RouteIQError, ValueError, OSError) as err:
        print(f"routeiq-sidecar: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
