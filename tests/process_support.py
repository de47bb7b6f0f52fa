"""Waiting for a sidecar process to listen: shared by tests/conftest.py and the LiteLLM lanes'
tests/litellm_support.py, so it imports nothing of the sidecar package."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import Any

LISTENING = re.compile(r"listening http=(\S+):(\d+) grpc=(\S+):(\d+)")


def drain_lines(stream: Any, lines: list[str], keep: int = 2000) -> None:
    with stream:  # closed at the server's exit (end of file), not left to the collector
        for line in stream:
            lines.append(line)
            if len(lines) > keep:
                del lines[: len(lines) - keep]


def wait_listening(proc: subprocess.Popen[str], timeout: float,
                   what: str = "server") -> tuple[int, int, list[str]]:
    """``(http_port, grpc_port, stderr lines)`` once ``proc`` logs its listening line; stderr
    keeps being drained (a full pipe would block the server's logging, then the server)."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                proc.stderr.close()
                raise RuntimeError(f"{what} exited {proc.returncode}: {''.join(lines)}")
            continue
        lines.append(line)
        m = LISTENING.search(line)
        if m:
            threading.Thread(target=drain_lines, args=(proc.stderr, lines), daemon=True).start()
            return int(m.group(2)), int(m.group(4)), lines
    proc.kill()
    proc.wait()
    proc.stderr.close()
    raise RuntimeError(f"{what} did not start in {timeout}s: {''.join(lines)}")
