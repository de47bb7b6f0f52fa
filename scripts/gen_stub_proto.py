"""Regenerate client_stub/routeiq_litellm/_proto from proto/ (run after editing the .proto).

The LiteLLM stub ships its own copy of the generated gRPC code so that it does not depend
on the sidecar package; tests/unit/stub/test_stub_proto.py fails when the copy drifts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB_PROTO = ROOT / "client_stub" / "routeiq_litellm" / "_proto"
PACKAGE = "routeiq_litellm._proto"
# Generated code is not ours to lint or type-check.
HEADER = "# ruff: noqa\n# mypy: ignore-errors\n"


def generate_stub(proto_root: Path, out_dir: Path) -> None:
    """Write ``routeiq/v1/router_pb2*.py[i]`` under ``out_dir``, imports rooted at the stub."""
    import grpc_tools
    from grpc_tools import protoc  # dev-only dependency

    include = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{proto_root}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            "routeiq/v1/router.proto",
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed")
        target = out_dir / "routeiq" / "v1"
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted((Path(tmp) / "routeiq" / "v1").iterdir()):
            text = f.read_text().replace(
                "from routeiq.v1 import", f"from {PACKAGE}.routeiq.v1 import"
            )
            (target / f.name).write_text(HEADER + text)
    for pkg in (out_dir, out_dir / "routeiq", target):
        init = pkg / "__init__.py"
        if not init.exists():
            init.write_text('"""Generated from proto/ by scripts/gen_stub_proto.py."""\n')


if __name__ == "__main__":
    generate_stub(ROOT / "proto", STUB_PROTO)
    print("generated", STUB_PROTO)
