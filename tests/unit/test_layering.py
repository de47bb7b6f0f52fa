"""The package's layering, read from its import statements (every one, lazy ones included).

No import cycle; arrows point down (api -> engine -> strategies/state -> bundle -> model ->
leaves); build-time code (export/, training/) is not imported by serving code; the transports
reach the engine only through the pipeline.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "routeiq_sidecar"
TRANSPORTS = tuple(f"routeiq_sidecar.api.{t}" for t in ("rest", "grpc", "ext_proc"))
# Lower layers never import higher ones. Build-time and tool packages sit on top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("routeiq_sidecar", "types", "text", "config", "errors", "limits", "progress", "tables", "ids",
     "model_names", "_proto"),
    ("telemetry", "model"),
    ("bundle",),
    ("strategies", "state"),
    ("engine",),
    ("api",),
    ("app", "supervisor", "flags", "cli", "__main__"),
    ("export", "training", "loadtest"),
)
BUILD_TIME = ("export", "training")
# The one sanctioned path from serve-time code to build-time code: building a bundle
# (bundle/build.py imports export/ inside the functions that build).
BUILDER = "routeiq_sidecar.bundle.build"


def build_path(m: str, n: str) -> bool:
    return m == BUILDER and area(n) == "export"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "_proto" not in p.parts
    }


@cache
def imports(module: str) -> frozenset[str]:
    """The package modules ``module`` imports, at any depth of its code."""
    known = modules()
    out: set[str] = set()
    for node in ast.walk(ast.parse(known[module].read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return frozenset(m for m in out if m in known and m != module)


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if area(module) in names)


def test_every_module_has_a_layer() -> None:
    assert [m for m in modules() if not any(area(m) in names for names in LAYERS)] == []


def test_no_import_cycle() -> None:
    graph = {m: imports(m) for m in modules()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycle = [*path[path.index(n) :], n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{m} -> {n}"
        for m in modules()
        for n in imports(m)
        if layer(n) > layer(m) and not build_path(m, n)
    ]
    assert upward == []


def test_serving_code_does_not_import_build_time_code() -> None:
    serving = [m for m in modules() if area(m) not in (*BUILD_TIME, "loadtest", "cli")]
    leaks = [
        f"{m} -> {n}"
        for m in serving
        for n in imports(m)
        if area(n) in BUILD_TIME and not build_path(m, n)
    ]
    assert leaks == []


def test_transports_reach_the_engine_only_through_the_pipeline() -> None:
    for t in TRANSPORTS:
        assert not [n for n in imports(t) if area(n) == "engine"], t
        tree = ast.parse(modules()[t].read_text())
        uses = [
            n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "engine"
        ]
        assert uses == [], f"{t} reads .engine at lines {uses}"
