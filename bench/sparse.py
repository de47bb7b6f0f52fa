"""What a sparse client sees: one REST decision after the server sat idle for a while, against
the bare encoder pass after the same idle time, for gaps of 0 (back to back), 10, 100 and 500 ms.

    .venv/bin/python bench/sparse.py [--tiers static,minilm] [--gaps 0,10,100,500] [--burst 16]
        [--requests 40] [--bundle DIR] [--json PATH]

The latency benchmarks (bench/latency.py, bench/grpc_h2load.py) send requests back to back, so
the server's code and data stay in the CPU's caches and TLBs. A gateway with little traffic sends
one now and then; in between, other processes (and, on a virtual machine, other guests) take
those caches, and the next decision pays to bring everything back. Per gap and tier, in one
run, interleaved (idle, bare pass in this process; idle, one ``POST /v1/route`` on a keep-alive
connection; idle, one ``GET /healthz``):

- the bare encoder pass (the tier's encoder alone, in this process, after the same idle time);
- the decision as the server timed it (``timings.total_us``: engine only, no transport), and
  its part after the encoder (``timings.classify_us``: signals, the strategy with its kNN
  search, the decision rule, state and metrics);
- the decision as this client saw it (wall time of the request over loopback);
- ``GET /healthz`` as this client saw it (the transport's floor after the same idle time);

with medians, p90 and the ratios to the bare pass of the same gap. With ``--burst N``, N
requests go at once on N other connections (and are answered) just before each idle time that
precedes a decision: what the first decision after a burst of traffic sees. The server runs as the
latency benchmarks run it (one worker, int8, no embedding cache, decision logs off).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import machine, start_server, stop_server  # noqa: E402

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.bundle.loader import encoder_for  # noqa: E402
from routeiq_sidecar.bundle.manifest import read_manifest  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests, selected_text  # noqa: E402
from routeiq_sidecar.model.static_encoder import static_encoder_for  # noqa: E402

GAPS_MS = (0, 10, 100, 500)
SERVER_ENV = {"ROUTEIQ_ENCODER_PRECISION": "int8", "ROUTEIQ_EMBED_CACHE_SIZE": "0",
              "ROUTEIQ_LOG_DECISIONS": "false"}


def idle(gap_ms: float) -> None:
    if gap_ms > 0:
        time.sleep(gap_ms / 1000)


def bare_encoder(bundle: Path, tier: str) -> Any:
    manifest = read_manifest(bundle)
    if tier == "static":
        return static_encoder_for(bundle, manifest["static"])
    return encoder_for(bundle, manifest["encoder"], "int8", 1)


class Client:
    """A minimal HTTP/1.1 keep-alive client (answers with a Content-Length), so that the client's
    own parsing weighs little on the figures (http.client parses headers in Python)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = port

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.send(method, path, body)
        return self.receive()

    def send(self, method: str, path: str, body: bytes = b"") -> None:
        head = (f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")
        self.sock.sendall(head.encode() + body)

    def receive(self) -> tuple[int, bytes]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self._recv()
        header, _, rest = buf.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        length = next(int(v) for k, _, v in (ln.partition(":") for ln in lines[1:])
                      if k.strip().lower() == "content-length")
        while len(rest) < length:
            rest += self._recv()
        return int(lines[0].split()[1]), rest

    def _recv(self) -> bytes:
        got = self.sock.recv(65536)
        if not got:
            raise ConnectionError("server closed the connection")
        return got

    def close(self) -> None:
        self.sock.close()


def stats(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(xs), 3),
            "p90_ms": round(float(np.percentile(np.asarray(xs), 90)), 3)}


def burst(clients: list[Client], body: bytes) -> None:
    """One request on each connection at once, then every answer."""
    for c in clients:
        c.send("POST", "/v1/route", body)
    for c in clients:
        status, answer = c.receive()
        if status != 200:
            raise RuntimeError(f"burst: route answered {status}: {answer[:200]!r}")


def measure_tier(bundle: Path, tier: str, gaps: list[float], n: int,
                 burst_size: int = 0) -> list[dict[str, Any]]:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(n)]
    texts = [selected_text(b) for b in bodies]
    enc = bare_encoder(bundle, tier)
    enc.encode(texts[:8])  # session start-up is not what this measures
    proc, http_port, _, _ = start_server(bundle, {**SERVER_ENV, "ROUTEIQ_ENCODER": tier})
    rows = []
    try:
        conn = Client(http_port)
        crowd = [Client(http_port) for _ in range(burst_size)]
        data = [json.dumps(b).encode() for b in bodies]
        for body in data[:20]:  # warm the server's first-call paths
            conn.request("POST", "/v1/route", body)
        for gap in gaps:
            bare, server, after, wall, health = [], [], [], [], []
            for i, (text, body) in enumerate(zip(texts, data, strict=True)):
                idle(gap)
                t = time.perf_counter_ns()
                enc.encode([text])
                bare.append((time.perf_counter_ns() - t) / 1e6)
                if crowd:
                    burst(crowd, data[(i + 1) % len(data)])
                idle(gap)
                t = time.perf_counter_ns()
                status, answer = conn.request("POST", "/v1/route", body)
                wall.append((time.perf_counter_ns() - t) / 1e6)
                if status != 200:
                    raise RuntimeError(f"route answered {status}: {answer[:200]!r}")
                timings = json.loads(answer)["timings"]
                server.append(timings["total_us"] / 1000)
                after.append(timings["classify_us"] / 1000)
                idle(gap)
                t = time.perf_counter_ns()
                conn.request("GET", "/healthz")
                health.append((time.perf_counter_ns() - t) / 1e6)
            row = {"tier": tier, "gap_ms": gap, "requests": len(data), "burst": burst_size,
                   "bare_pass": stats(bare), "route_server": stats(server),
                   "route_after_encoder": stats(after),
                   "route_client": stats(wall), "healthz_client": stats(health)}
            b50 = row["bare_pass"]["p50_ms"]
            row["route_server_over_bare"] = round(row["route_server"]["p50_ms"] / b50, 2)
            row["route_client_minus_bare_ms"] = round(row["route_client"]["p50_ms"] - b50, 3)
            rows.append(row)
            print(f"{tier} gap {gap:g} ms: bare {b50:.3f}, route server "
                  f"{row['route_server']['p50_ms']:.3f}, route client "
                  f"{row['route_client']['p50_ms']:.3f}, healthz "
                  f"{row['healthz_client']['p50_ms']:.3f} ms (p50)", flush=True)
        for c in [conn, *crowd]:
            c.close()
    finally:
        stop_server(proc)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| tier | idle before each call | bare pass p50 (p90) | decision, server p50 (p90) | "
           "of which after the encoder, p50 | decision, client p50 (p90) | client minus bare, "
           "p50 | `/healthz`, client p50 |",
           "|---|---|---|---|---|---|---|---|"]

    def cell(r: dict[str, Any], k: str) -> str:
        return f"{r[k]['p50_ms']:.2f} ({r[k]['p90_ms']:.2f}) ms"

    for r in rows:
        after = f", after a burst of {r['burst']}" if r.get("burst") else ""
        out.append(f"| {r['tier']} | {r['gap_ms']:g} ms{after} | {cell(r, 'bare_pass')} | "
                   f"{cell(r, 'route_server')} | {r['route_after_encoder']['p50_ms']:.2f} ms | "
                   f"{cell(r, 'route_client')} | "
                   f"{r['route_client_minus_bare_ms']:.2f} ms | "
                   f"{r['healthz_client']['p50_ms']:.2f} ms |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiers", default="static,minilm")
    ap.add_argument("--gaps", default=",".join(str(g) for g in GAPS_MS),
                    help="comma-separated idle times before each call, in ms")
    ap.add_argument("--requests", type=int, default=40, help="decisions per tier and gap")
    ap.add_argument("--burst", type=int, default=0,
                    help="before each idle and decision, this many requests at once "
                         "(the first decision after a burst; 0 = none)")
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    gaps = [float(g) for g in args.gaps.split(",")]
    info = {**machine(), "kernel": os.uname().release}
    print(f"machine: {info}", flush=True)
    rows = []
    for tier in args.tiers.split(","):
        rows += measure_tier(bundle, tier, gaps, args.requests, args.burst)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
