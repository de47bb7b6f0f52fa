"""Regenerate client_stub/routeiq_litellm/_proto from proto/ (run after editing the .proto).

The LiteLLM stub ships its own copy of the generated gRPC code so that it does not depend
on the sidecar package; tests/unit/stub/test_stub_proto.py fails when the copy drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from protogen import generate  # noqa: E402

STUB_PROTO = ROOT / "client_stub" / "routeiq_litellm" / "_proto"
PACKAGE = "routeiq_litellm._proto"
# Generated code is not ours to lint or type-check.
HEADER = "# ruff: noqa\n# mypy: ignore-errors\n"


def generate_stub(proto_root: Path, out_dir: Path) -> None:
    """Write ``routeiq/v1/router_pb2*.py[i]`` under ``out_dir``, imports rooted at the stub."""
    generate(
        proto_root,
        out_dir,
        package=PACKAGE,
        header=HEADER,
        init_text='"""Generated from proto/ by scripts/gen_stub_proto.py."""\n',
    )


if __name__ == "__main__":
    generate_stub(ROOT / "proto", STUB_PROTO)
    print("generated", STUB_PROTO)
