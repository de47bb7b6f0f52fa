"""A real Prometheus server (Debian's ``prometheus`` package) and its ``promtool``.

``scripts/install.sh dev`` installs the package when run as root; without the binaries the
tests that need them skip, saying so. Prometheus cannot listen on port 0, so it gets a free
port (picked again if another process takes it first).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.redis_support import free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
INSTALL_HINT = "apt-get install prometheus (scripts/install.sh dev does, as root)"


def need(binary: str | None, name: str) -> str:
    if binary is None:
        pytest.skip(f"{name} not found: {INSTALL_HINT}")
    return binary


class PrometheusServer:
    """``prometheus`` scraping ``targets`` every ``scrape_interval``, storage in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        targets: dict[str, list[str]],
        scrape_interval: str = "1s",
        rule_files: list[Path] | None = None,
    ) -> None:
        self.workdir = workdir
        self.config = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "rule_files": [str(p) for p in rule_files or []],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": hosts}]}
                for job, hosts in targets.items()
            ],
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> PrometheusServer:
        binary = need(PROMETHEUS, "prometheus")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config))
        log = self.workdir / "prometheus.log"
        for _ in range(attempts):
            self.port = free_port()
            with log.open("wb") as out:
                self.proc = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={self.workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--log.level=warn",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if self._ready():
                return self
        raise RuntimeError(f"prometheus did not start: {log.read_text()[-3000:]}")

    def _ready(self, timeout: float = 60.0) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken meanwhile: try another
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        return False

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        """GET /api/v1/<path>: the decoded answer (errors included, never raised)."""
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        body: dict[str, Any] = r.json()
        return body

    def query(self, expr: str) -> dict[str, Any]:
        return self.api("query", query=expr)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
