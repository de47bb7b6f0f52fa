"""A plain install works: the built wheel goes into a fresh virtualenv with nothing but
``pip install <wheel>`` (no forced reinstall, no extra package), then ``serve`` runs with OTLP
tracing and the Envoy ext_proc service on, routes over REST and over ext_proc, and its spans
reach a real OTLP receiver. This is the install that once died at start with
``ImportError: cannot import name 'InstrumentationScope'`` (xds-protos overwrote
opentelemetry-proto's files).

The wheel is built from a copy of the sources (``pip wheel --no-deps --no-build-isolation``,
with this environment's setuptools, so the build itself needs no index); the install resolves
the dependencies from the package index (pip's cache makes repeated runs quick). The bundle is
the session's tiny test bundle (``ROUTEIQ_BUNDLE``), so the MiniLM weights are not needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from routeiq_sidecar._proto.envoy.config.core.v3 import base_pb2
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from tests.conftest import CHEAP, ROOT, STRONG, start_server_process, stop_server_process
from tests.otlp_support import otlp_receiver

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "routeiq_sidecar")
CATALOGUE = ROOT / "client_stub" / "examples" / "envoy" / "catalogue.yaml"
SERVICE = "routeiq-wheel-test"


def run(*cmd: str | Path, timeout: float = 900) -> str:
    """Run outside the source tree, without this environment's PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd="/", env=env
    )
    assert out.returncode == 0, f"{cmd}: {out.stdout[-3000:]}{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("wheel")
    src, dist, env = root / "src", root / "dist", root / "venv"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in SOURCES:
        here = ROOT / name
        if here.is_dir():
            shutil.copytree(here, src / name, ignore=ignore)
        else:
            shutil.copy2(here, src / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", dist, src)  # fmt: skip
    (wheel,) = dist.glob("routeiq_sidecar-*.whl")
    run(sys.executable, "-m", "venv", env)
    run(env / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel)
    yield env
    shutil.rmtree(root, ignore_errors=True)


def ext_proc_route(grpc_target: str, body: dict[str, object]) -> dict[str, str]:
    """One chat request through the ext_proc service, as Envoy sends it (headers, then the
    buffered body): the headers RouteIQ sets."""
    raw = json.dumps(body).encode()
    headers = ep.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[
                base_pb2.HeaderValue(key=":method", raw_value=b"POST"),
                base_pb2.HeaderValue(key=":path", raw_value=b"/v1/chat/completions"),
                base_pb2.HeaderValue(key="content-type", raw_value=b"application/json"),
            ]
        )
    )
    requests = [
        ep.ProcessingRequest(request_headers=headers),
        ep.ProcessingRequest(request_body=ep.HttpBody(body=raw, end_of_stream=True)),
    ]
    with grpc.insecure_channel(grpc_target) as ch:
        answers = list(ep_grpc.ExternalProcessorStub(ch).Process(iter(requests), timeout=60))
    mutation = answers[-1].request_body.response.header_mutation
    return {h.header.key: h.header.raw_value.decode() for h in mutation.set_headers}


def test_fresh_wheel_serves_with_otlp_and_ext_proc(
    venv: Path, tiny_bundle_path: Path, tmp_path: Path
) -> None:
    python = str(venv / "bin" / "python")
    # installed from the wheel, not the source tree; nothing else in the venv
    where = run(python, "-c", "import routeiq_sidecar; print(routeiq_sidecar.__file__)")
    assert Path(where.strip()).is_relative_to(venv)
    run(python, "-m", "pip", "check")
    installed = run(python, "-m", "pip", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(installed)}
    assert "xds-protos" not in names and "opentelemetry-proto" in names
    with otlp_receiver() as receiver:
        sp = start_server_process(
            "--bundle", str(tiny_bundle_path), "--home", str(tmp_path),
            python=python, cwd=tmp_path,
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_SERVICE_NAME": SERVICE,
                "ROUTEIQ_CATALOGUE": str(CATALOGUE),
                "ROUTEIQ_EXT_PROC_DEADLINE_MS": "10000",
            },
        )  # fmt: skip
        try:
            r = httpx.post(
                f"{sp.http}/v1/route",
                json={"prompt": "hi", "candidates": [CHEAP, STRONG]},
                timeout=60,
            )
            set_headers = ext_proc_route(
                sp.grpc, {"model": "auto", "messages": [{"role": "user", "content": "hello"}]}
            )
            got = receiver.wait_for(
                lambda rc: bool(rc.named("routeiq.route") and rc.named("routeiq.extproc"))
            )
        finally:
            code = stop_server_process(sp, timeout=60)
    assert r.status_code == 200 and r.json()["selected_id"] in {"cheap", "strong"}
    assert set_headers["x-routeiq-deployment"] in {"cheap", "strong"}
    assert got, f"spans received: {[x.name for x in receiver.received]}"
    route = receiver.named("routeiq.route")[0]
    assert route.attributes["routeiq.decision_id"] == r.json()["decision_id"]
    ext = receiver.named("routeiq.extproc")[0]
    assert ext.attributes["routeiq.transport"] == "ext_proc"
    assert ext.attributes["routeiq.decision_id"] == set_headers["x-routeiq-decision-id"]
    assert {x.resource["service.name"] for x in receiver.received} == {SERVICE}
    assert code == 0
