"""What the LiteLLM stub's tests share, without importing the sidecar package.

The stub's tests also run in venvs that hold only LiteLLM and the stub's wheel
(``.venv-litellm-old`` / ``-new``, see scripts/install.sh): there the sidecar runs as a
process of the project's own venv, named by ``ROUTEIQ_SIDECAR_PYTHON`` (default: this Python).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.process_support import wait_listening

ROOT = Path(__file__).resolve().parents[1]
# Deployments of the example config: model_info.id -> model.
DEPLOYMENTS = [("cheap", "openai/gpt-4o-mini"), ("strong", "openai/gpt-4o"),
               ("reasoning", "openai/o3-mini")]


def sidecar_python() -> str:
    return os.environ.get("ROUTEIQ_SIDECAR_PYTHON") or sys.executable


class Sidecar:
    """A real sidecar process on free ports."""

    def __init__(self, proc: subprocess.Popen[str], http: int, grpc: int, lines: list[str]) -> None:
        self.proc, self.http_port, self.grpc_port, self.lines = proc, http, grpc, lines

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def url(self, transport: str) -> str:
        return self.http if transport == "http" else self.grpc

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def start_sidecar(bundle: Path | None, home: Path | None, *args: str,
                  env: dict[str, str] | None = None, timeout: float = 120.0) -> Sidecar:
    """``bundle`` None: the default bundle; ``home`` None: the default home (the user's cache,
    where the default bundle is built once and then reused)."""
    cmd = [sidecar_python(), "-m", "routeiq_sidecar", "serve", "--http-port", "0",
           "--grpc-port", "0", *args]
    cmd += ["--bundle", str(bundle)] if bundle is not None else []
    cmd += ["--home", str(home)] if home is not None else []
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, **(env or {})})
    http_port, grpc_port, lines = wait_listening(proc, timeout, "sidecar")
    return Sidecar(proc, http_port, grpc_port, lines)


def build_tiny_bundle(out: Path) -> Path:
    """A bundle with a tiny random encoder (seconds to build), through the sidecar's CLI."""
    subprocess.run(
        [sidecar_python(), "-m", "routeiq_sidecar", "bundle", "build", "--encoder",
         "tiny-random", "--out", str(out), "--home", str(out.parent / "home")],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300,
    )
    return out


@pytest.fixture(scope="session")
def stub_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bundle(tmp_path_factory.mktemp("stub-bundle") / "tiny")


@pytest.fixture(scope="module")
def sidecar(stub_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    sc = start_sidecar(stub_bundle, tmp_path_factory.mktemp("home"))
    yield sc
    sc.stop()


# For the shipped default router on the example deployments (cheap gpt-4o-mini, strong gpt-4o,
# reasoning o3-mini): it leans on prompt length (README, "Routing that transfers"), so the hard
# prompt is clearly hard, in several parts; a one-line proof goes to the middle model.
EASY = "hi, how are you?"
HARD = ("Design a distributed rate limiter for a multi-region API gateway: give the data "
        "structures, the consistency trade-offs between regions, how it behaves during a network "
        "partition, and a proof sketch that no client can exceed its quota by more than a "
        "bounded amount.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], bool], timeout_s: float = 20.0, every_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every_s)
    return cond()


def feedback_accepted(sc: Sidecar) -> float:
    for line in httpx.get(f"{sc.http}/metrics").text.splitlines():
        if line.startswith('routeiq_feedback_total{result="accepted"}'):
            return float(line.split()[-1])
    return 0.0


def deployment(did: str, model: str, group: str = "auto", reply: str | None = None
               ) -> dict[str, Any]:
    return {
        "model_name": group,
        "litellm_params": {"model": model, "api_key": "mock-key",
                           "mock_response": reply or f"answered by {did}"},
        "model_info": {"id": did},
    }


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """A 'sidecar' that answers wrongly: no real sidecar can be made to do this on purpose."""

    mode = "error"

    def do_GET(self) -> None:  # the stub's warm-up
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if Misbehaving.mode == "slow":
            time.sleep(1.0)
        status, body = {
            "error": (500, b'{"error": {"code": "internal"}}'),
            "unknown_id": (200, json.dumps({"decision_id": "d", "selected_id": "nope"}).encode()),
            "not_json": (200, b"<html>"),
            "slow": (200, b"{}"),
            "rejected": (400, b'{"error": {"code": "invalid_argument"}}'),
        }[Misbehaving.mode]
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# mode -> the fallback reason the stub counts
MISBEHAVIOURS = [("error", "server_error"), ("unknown_id", "bad_answer"),
                 ("not_json", "bad_answer"), ("slow", "timeout"), ("rejected", "rejected")]


@pytest.fixture
def misbehaving() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
