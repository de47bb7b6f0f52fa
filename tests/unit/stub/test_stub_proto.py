"""The stub's committed gRPC code is exactly what proto/ generates (no drift after an edit)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "client_stub" / "routeiq_litellm" / "_proto"
FIX = "the stub's gRPC code is out of date: run `python scripts/gen_stub_proto.py` and commit"


def _generator() -> object:
    script = ROOT / "scripts" / "gen_stub_proto.py"
    spec = importlib.util.spec_from_file_location("gen_stub_proto", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in {".py", ".pyi"}
    }


def test_stub_proto_matches_proto(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev dependency")
    _generator().generate_stub(ROOT / "proto", tmp_path)  # type: ignore[attr-defined]
    fresh, committed = _files(tmp_path), _files(COMMITTED)
    assert "routeiq/v1/router_pb2_grpc.py" in fresh
    assert set(fresh) == set(committed), f"{FIX} (files: {sorted(set(fresh) ^ set(committed))})"
    for name, data in fresh.items():
        assert data == committed[name], f"{FIX} ({name} differs)"


def test_stub_does_not_depend_on_the_sidecar_package() -> None:
    for path in COMMITTED.parent.rglob("*.py"):
        assert "routeiq_sidecar" not in path.read_text(), path
    grpc_code = (COMMITTED / "routeiq" / "v1" / "router_pb2_grpc.py").read_text()
    assert "from routeiq_litellm._proto.routeiq.v1 import router_pb2" in grpc_code
