"""The committed gRPC stubs are exactly what proto/ generates (no drift after a .proto edit)."""

from __future__ import annotations

import contextlib
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


VENDORED = ("envoy", "udpa", "validate", "xds")
ENVOY_FIX = (
    "the Envoy stubs are out of date with proto/third_party: run `python scripts/gen_proto.py` "
    "and commit"
)


def generated_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for top in VENDORED
        for p in sorted((root / top).rglob("*"))
        if p.is_file() and p.suffix in {".py", ".pyi"}
    }


def test_envoy_stubs_match_the_vendored_protos(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools is a dev dependency")
    from scripts.protogen import generate_envoy

    generate_envoy(ROOT / "proto" / "third_party", tmp_path)
    fresh = generated_tree(tmp_path)
    committed = generated_tree(ROOT / "routeiq_sidecar" / "_proto")
    assert "envoy/service/ext_proc/v3/external_processor_pb2_grpc.py" in fresh
    assert set(fresh) == set(committed), (
        f"{ENVOY_FIX} (files differ: {sorted(set(fresh) ^ set(committed))})"
    )
    for name, data in fresh.items():
        assert data == committed[name], f"{ENVOY_FIX} ({name} differs)"


def test_envoy_stubs_stay_inside_the_package() -> None:
    """No import of a top-level envoy/udpa/validate/xds package (another wheel's files), and no
    registration in protobuf's default pool (another copy of Envoy's protos would clash)."""
    tree = generated_tree(ROOT / "routeiq_sidecar" / "_proto")
    for name, data in tree.items():
        text = data.decode()
        for top in VENDORED:
            assert f"\nfrom {top}." not in text and f"\nfrom {top} " not in text, name
            assert f"\nimport {top}." not in text, name
        if name.endswith("_pb2.py"):
            assert "_descriptor_pool.Default()" not in text, name
            assert "_envoy_pool.POOL.AddSerializedFile(" in text, name


def test_envoy_messages_coexist_with_another_copy_in_the_process() -> None:
    """The vendored stubs round-trip and leave protobuf's default pool free for another copy."""
    from google.protobuf import descriptor_pool

    from routeiq_sidecar._proto.envoy.config.core.v3 import base_pb2
    from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2 as ep

    header = base_pb2.HeaderValue(key="x-routeiq-model", raw_value=b"gpt")
    resp = ep.ProcessingResponse(
        request_headers=ep.HeadersResponse(
            response=ep.CommonResponse(
                header_mutation=ep.HeaderMutation(
                    set_headers=[base_pb2.HeaderValueOption(header=header)]
                )
            )
        )
    )
    back = ep.ProcessingResponse.FromString(resp.SerializeToString())
    assert back.request_headers.response.header_mutation.set_headers[0].header == header
    service = ep.DESCRIPTOR.services_by_name["ExternalProcessor"].full_name
    assert service == "envoy.service.ext_proc.v3.ExternalProcessor"  # the path Envoy calls
    default = descriptor_pool.Default()
    assert ep.DESCRIPTOR.pool is not default and base_pb2.DESCRIPTOR.pool is not default
    with contextlib.suppress(KeyError):  # absent, unless another copy was imported: not ours
        assert default.FindFileByName(base_pb2.DESCRIPTOR.name) is not base_pb2.DESCRIPTOR
