"""Generate the Python gRPC stubs from ``proto/`` (scripts/gen_proto.py and the drift test;
scripts/gen_stub_proto.py reuses it for the LiteLLM stub's own copy). Dev-only: it lives
outside the runtime package."""

from __future__ import annotations

import tempfile
from pathlib import Path


def generate(
    proto_root: Path,
    out_dir: Path,
    *,
    package: str = "routeiq_sidecar._proto",
    header: str = "",
    init_text: str = "",
) -> None:
    """Write ``routeiq/v1/router_pb2*.py[i]`` under ``out_dir`` with imports rooted at
    ``package``; ``header`` is prepended to each file, ``init_text`` fills new ``__init__``s."""
    import grpc_tools
    from grpc_tools import protoc  # dev-only dependency

    include = Path(grpc_tools.__file__).parent / "_proto"
    target = out_dir / "routeiq" / "v1"
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
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted((Path(tmp) / "routeiq" / "v1").iterdir()):
            text = f.read_text().replace(
                "from routeiq.v1 import", f"from {package}.routeiq.v1 import"
            )
            (target / f.name).write_text(header + text)
    for pkg in (out_dir, out_dir / "routeiq", target):
        init = pkg / "__init__.py"
        if not init.exists():
            init.write_text(init_text)
