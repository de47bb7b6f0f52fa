"""The committed gRPC stubs are exactly what proto/ generates (no drift after a .proto edit)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "routeiq_sidecar" / "_proto" / "routeiq" / "v1"
FIX = "the stubs are out of date with proto/: run `python scripts/gen_proto.py` and commit"


def stub_files(folder: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in {".py", ".pyi"}
    }


def test_stubs_match_proto(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev dependency")
    from scripts.protogen import generate

    generate(ROOT / "proto", tmp_path)
    fresh = stub_files(tmp_path / "routeiq" / "v1")
    committed = stub_files(COMMITTED)
    assert {"router_pb2.py", "router_pb2.pyi", "router_pb2_grpc.py"} <= set(fresh)
    assert set(fresh) == set(committed), (
        f"{FIX} (files differ: {sorted(set(fresh) ^ set(committed))})"
    )
    for name, data in fresh.items():
        assert data == committed[name], f"{FIX} ({name} differs)"


def test_generated_imports_are_package_rooted(tmp_path: Path) -> None:
    grpc_stub = (COMMITTED / "router_pb2_grpc.py").read_text()
    assert "from routeiq_sidecar._proto.routeiq.v1 import router_pb2" in grpc_stub
    assert "\nfrom routeiq.v1 import" not in grpc_stub
