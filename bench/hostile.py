"""What hostile clients cost a real sidecar (issue 15's figures), measured in one run:

- RSS growth per route with every caller string at its maximal accepted size (each request a
  new session, so the session map and the decision log keep them), and per refused route whose
  ``session_id`` is 64 KB (refused with a 400, nothing kept);
- ``/metrics`` size and scrape time after N distinct candidate ``model`` names;
- good requests (REST and gRPC) while S slow clients hold connections, sending headers and one
  body byte, then nothing.

    .venv/bin/python bench/hostile.py [--bundle DIR] [--routes 2000] [--models 10000] [--slow 300]

Without ``--bundle`` the embedded default bundle serves. Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import httpx

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc

LISTENING = re.compile(r"listening http=(\S+):(\d+) grpc=(\S+):(\d+)")
JSON = {"content-type": "application/json"}
CANDIDATES = [
    {"id": "cheap", "model": "openai/gpt-4o-mini", "input_cost_per_mtok": 0.15,
     "output_cost_per_mtok": 0.6},
    {"id": "strong", "model": "openai/gpt-4o", "input_cost_per_mtok": 2.5,
     "output_cost_per_mtok": 10},
]


def start(bundle: str | None, max_in_flight: int) -> tuple[subprocess.Popen[str], int, int]:
    exe = shutil.which("routeiq-sidecar", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "routeiq_sidecar"]
    cmd += ["serve", "--http-port", "0", "--grpc-port", "0"]
    if bundle:
        cmd += ["--bundle", bundle]
    env = {**os.environ, "ROUTEIQ_LOG_DECISIONS": "false",
           "ROUTEIQ_MAX_IN_FLIGHT": str(max_in_flight)}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=env)
    assert proc.stderr is not None
    for line in proc.stderr:
        m = LISTENING.search(line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(2)), int(m.group(4))
    raise RuntimeError(f"server exited {proc.wait()}")


def rss_kb(pid: int) -> int:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    assert m
    return int(m.group(1))


def maximal(i: int) -> dict[str, Any]:
    return {
        "prompt": "what is 2+2?",
        "candidates": CANDIDATES,
        "session_id": f"{i:08d}" + "s" * 248,
        "user_id": "u" * 256,
        "request_id": f"{i:08d}" + "r" * 120,
        "metadata": {f"k{j:03d}" + "k" * 124: "v" * 1024 for j in range(64)},
    }


def rss_per_request(pid: int, base: str, routes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(timeout=60, headers=JSON) as c:
        for i in range(200):  # warm-up: allocator pools, caches
            c.post(f"{base}/v1/route", json=maximal(i))
        before = rss_kb(pid)
        codes = [c.post(f"{base}/v1/route", json=maximal(i)).status_code
                 for i in range(200, 200 + routes)]
        after = rss_kb(pid)
        out["maximal_fields"] = {"routes": routes, "ok": codes.count(200),
                                 "rss_growth_kb_per_request": round((after - before) / routes, 2)}
        big = "x" * 65_536
        before = rss_kb(pid)
        codes = [c.post(f"{base}/v1/route", json={**maximal(i), "session_id": f"{i}{big}"})
                 .status_code for i in range(routes)]
        after = rss_kb(pid)
        out["64kb_session_id"] = {"routes": routes, "refused_400": codes.count(400),
                                  "rss_growth_kb_per_request": round((after - before) / routes, 2)}
    return out


def metrics_after_models(pid: int, base: str, models: int) -> dict[str, Any]:
    before = rss_kb(pid)
    with httpx.Client(timeout=60, headers=JSON) as c:
        for i in range(models):
            model = f"caller-model-{i:06d}" if i % 2 else f"caller-model-{i:06d}-" + "z" * 200
            c.post(f"{base}/v1/route", json={"prompt": "hi",
                                             "candidates": [{"id": "only", "model": model}]})
        scrapes = []
        for _ in range(5):
            t0 = time.perf_counter()
            text = c.get(f"{base}/metrics").text
            scrapes.append((time.perf_counter() - t0) * 1000)
    labels = set(re.findall(r'routeiq_decisions_total\{[^}]*selected_model="([^"]*)"', text))
    return {"distinct_models_sent": models, "metrics_bytes": len(text.encode()),
            "selected_model_values": len(labels), "scrape_ms_median": round(
                statistics.median(scrapes), 1), "rss_growth_mb": round(
                    (rss_kb(pid) - before) / 1024, 1)}


def under_slow_clients(http_port: int, grpc_port: int, slow: int) -> dict[str, Any]:
    head = (b"POST /v1/route HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: 4096\r\n\r\n{")
    socks = []
    for _ in range(slow):
        s = socket.create_connection(("127.0.0.1", http_port), timeout=60)
        s.sendall(head)
        socks.append(s)
    time.sleep(0.5)
    base = f"http://127.0.0.1:{http_port}"
    rest_ok, lat = 0, []
    body = {"prompt": "what is 2+2?", "candidates": CANDIDATES}
    with httpx.Client(timeout=60, headers=JSON) as c:
        for _ in range(100):
            t0 = time.perf_counter()
            rest_ok += c.post(f"{base}/v1/route", json=body).status_code == 200
            lat.append((time.perf_counter() - t0) * 1000)
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    stub = pb_grpc.RouterServiceStub(channel)
    req = pb.RouteRequest(prompt="what is 2+2?",
                          candidates=[pb.Candidate(id="a", model="m")])
    grpc_ok = 0
    for _ in range(100):
        with contextlib.suppress(grpc.RpcError):
            grpc_ok += stub.Route(req, timeout=60).selected_id == "a"
    channel.close()
    for s in socks:
        s.close()
    return {"slow_clients": slow, "rest_ok": f"{rest_ok}/100", "grpc_ok": f"{grpc_ok}/100",
            "rest_p50_ms": round(statistics.median(lat), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle")
    ap.add_argument("--routes", type=int, default=2000)
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--slow", type=int, default=300)
    a = ap.parse_args()
    report: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "bundle": a.bundle or
                              "embedded default"}
    proc, http_port, grpc_port = start(a.bundle, max_in_flight=256)
    try:
        base = f"http://127.0.0.1:{http_port}"
        report["rss"] = rss_per_request(proc.pid, base, a.routes)
        report["metrics"] = metrics_after_models(proc.pid, base, a.models)
        report["under_slow_clients"] = under_slow_clients(http_port, grpc_port, a.slow)
    finally:
        proc.terminate()
        proc.wait(30)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
