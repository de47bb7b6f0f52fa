"""Generate the Python gRPC stubs from ``proto/`` (scripts/gen_proto.py and the drift test)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def generate(proto_root: Path, out_dir: Path) -> None:
    """Write ``routeiq/v1/router_pb2*.py`` under ``out_dir`` with imports rooted at the package."""
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
        gen = Path(tmp) / "routeiq" / "v1"
        target = out_dir / "routeiq" / "v1"
        target.mkdir(parents=True, exist_ok=True)
        for f in sorted(gen.iterdir()):
            text = f.read_text()
            text = text.replace(
                "from routeiq.v1 import", "from routeiq_sidecar._proto.routeiq.v1 import"
            )
            (target / f.name).write_text(text)
        for pkg in (out_dir, out_dir / "routeiq", target):
            init = pkg / "__init__.py"
            if not init.exists():
                init.write_text("")
    shutil.rmtree(Path(tmp), ignore_errors=True)
