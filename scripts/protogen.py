"""Generate the Python gRPC stubs from ``proto/`` (scripts/gen_proto.py and the drift test;
scripts/gen_stub_proto.py reuses it for the LiteLLM stub's own copy). Dev-only: it lives
outside the runtime package."""

from __future__ import annotations

import re
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


THIRD_PARTY_ROOTS = ("envoy", "udpa", "validate", "xds")
EXT_PROC_PROTO = "envoy/service/ext_proc/v3/external_processor.proto"
POOL_MODULE = "_envoy_pool"


def _rooted(text: str, package: str) -> str:
    """Imports and module names of the vendored packages, rooted at ``package``."""
    roots = "|".join(THIRD_PARTY_ROOTS)
    text = re.sub(rf"^(\s*)from ({roots})([. ])", rf"\1from {package}.\2\3", text, flags=re.M)
    text = re.sub(rf"^(\s*)import ({roots})\.", rf"\1import {package}.\2.", text, flags=re.M)
    return re.sub(
        rf"(BuildTopDescriptorsAndMessages\(DESCRIPTOR, ')(({roots})\.)", rf"\1{package}.\2", text
    )


def _private_pool(text: str, package: str) -> str:
    """Register the file in the vendored stubs' own descriptor pool, not the default one."""
    if "_descriptor_pool.Default().AddSerializedFile(" not in text:
        return text
    text = text.replace(
        "from google.protobuf import descriptor_pool as _descriptor_pool\n",
        f"from google.protobuf import descriptor_pool as _descriptor_pool\n"
        f"from {package} import {POOL_MODULE} as _envoy_pool\n",
    )
    return text.replace(
        "_descriptor_pool.Default().AddSerializedFile(", "_envoy_pool.POOL.AddSerializedFile("
    )


def generate_envoy(
    third_party: Path, out_dir: Path, *, package: str = "routeiq_sidecar._proto"
) -> list[Path]:
    """Write the stubs of every ``.proto`` under ``third_party`` (Envoy's ext_proc closure,
    proto/third_party/README.md) under ``out_dir``: ``_pb2.py`` + ``.pyi`` for each, gRPC
    stubs for the ext_proc service; imports rooted at ``package``, descriptors in the private
    pool of ``package._envoy_pool``. Returns the files written."""
    import grpc_tools
    from grpc_tools import protoc  # dev-only dependency

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(p.relative_to(third_party).as_posix() for p in third_party.rglob("*.proto"))
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = ["protoc", f"-I{third_party}", f"-I{include}"]
        if protoc.main([*base, f"--python_out={tmp}", f"--pyi_out={tmp}", *protos]) != 0:
            raise RuntimeError("protoc failed (vendored protos)")
        if protoc.main([*base, f"--grpc_python_out={tmp}", EXT_PROC_PROTO]) != 0:
            raise RuntimeError("protoc failed (ext_proc service)")
        for f in sorted(Path(tmp).rglob("*")):
            if not f.is_file() or f.suffix not in (".py", ".pyi"):
                continue
            rel = f.relative_to(tmp)
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_private_pool(_rooted(f.read_text(), package), package))
            written.append(target)
    for folder in sorted({p.parent for p in written}):
        while folder != out_dir and out_dir in folder.parents:
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text("")
            folder = folder.parent
    return written
