"""gRPC (and REST) decisions per second with a load generator written in C (nghttp2's h2load),
so the client takes little of the cores it shares with the server (grpc.aio in bench/latency.py
costs ~0.2-0.5 ms of CPU per call, a third of a static decision).

h2load speaks HTTP/2, not gRPC: each request is a POST of one length-prefixed RouteRequest to
``/routeiq.v1.RouterService/Route``; h2load cannot vary the body, so the load is ``--prompts``
h2load processes side by side, each sending one prompt of the latency bench's mix (seed 1,
spread over short, medium, long and agent prompts) on its share of the connections. h2load
sees only HTTP statuses; a gRPC error travels in a trailer, so errors are counted on the
server: decisions made (``routeiq_decisions``) against requests h2load finished, plus the
rejection counter. The embedding cache is off: every request is encoded and scanned.

    apt-get install nghttp2-client   # h2load
    .venv/bin/python bench/grpc_h2load.py --tier static --workers 1,2 --concurrency 16,64
    .venv/bin/python bench/grpc_h2load.py --transport rest --concurrency 1,16

``--transport rest`` loads ``POST /v1/route`` over HTTP/1.1 keep-alive (``h2load --h1``; one
request in flight per connection, ``concurrency`` connections in all), with ``GET /healthz``
as the HTTP floor. Below ``--prompts`` streams (e.g. concurrency 1) the prompts' processes run
one after another, each with one stream.

Reports, per tier, worker count, transport and concurrency: req/s (requests finished over
the wall time of the run), p50/p99 of h2load's per-request log, server CPU ms per decision
(and its split: the workers' event-loop threads against every other thread of the server),
h2load's own CPU ms per request, and the error count; ``--json PATH`` writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.config import load_settings
from routeiq_sidecar.loadtest.loadgen import with_candidates
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests
from routeiq_sidecar.telemetry.accumulate import FLUSH_S

SETTLE_S = FLUSH_S + 0.3  # every worker has flushed its counts to the shared files

PATH = "/routeiq.v1.RouterService/Route"
REST_PATH = "/v1/route"
HEALTH = "/grpc.health.v1.Health/Check"  # grpc's own servicer: the transport's floor
H2LOAD_PROMPTS = 8  # distinct prompts, one h2load process each
GRPC_CONNECTIONS = 1  # HTTP/2 connections per h2load process (--grpc-connections)
METRIC = re.compile(r"^(routeiq_decisions_total|routeiq_rejections_total|"
                    r"routeiq_cascade_answers_total|routeiq_predict_batch_size_sum|"
                    r"routeiq_predict_batch_size_count)(?:\{([^}]*)\})? (\S+)$", re.M)


def framed_raw(raw: bytes) -> bytes:
    """One gRPC message: no compression flag, a 4-byte big-endian length, the proto bytes."""
    return struct.pack(">BI", 0, len(raw)) + raw


def framed(body: dict[str, Any]) -> bytes:
    """A route body (proto JSON) as one gRPC RouteRequest message."""
    raw: bytes = json_format.ParseDict(body, pb.RouteRequest()).SerializeToString()
    return framed_raw(raw)


def json_body(body: dict[str, Any]) -> bytes:
    """A route body as ``POST /v1/route`` sends it."""
    return json.dumps(body).encode()


def counters(http_port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=30).read()
    out = {"routeiq_decisions_total": 0.0, "routeiq_rejections_total": 0.0, "escalated": 0.0,
           "routeiq_predict_batch_size_sum": 0.0, "routeiq_predict_batch_size_count": 0.0}
    for name, labels, value in METRIC.findall(text.decode()):
        if name == "routeiq_cascade_answers_total":
            if 'tier="minilm"' in labels:
                out["escalated"] += float(value)
        else:
            out[name] += float(value)
    return out


def pick_prompts(bodies: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` bodies spread evenly over ``bodies`` (the mix is in random order)."""
    return [bodies[i] for i in np.linspace(0, len(bodies) - 1, n).astype(int)]


def run_h2load(h2load: str, port: int, bodies: list[bytes], concurrency: int, requests: int,
               tmp: Path, path: str = PATH, *, rest: bool = False) -> dict[str, Any]:
    """``len(bodies)`` h2load processes, ``concurrency`` streams in all (gRPC:
    ``GRPC_CONNECTIONS`` connections each, ``-m`` streams per connection; REST: ``concurrency``
    HTTP/1.1 connections in all);
    with fewer streams than prompts the processes run one after another. A body ``b""`` sends a
    GET."""
    per = max(1, concurrency // len(bodies))
    if rest:
        proto = ["--h1", "-c", str(per)] + (["-H", "content-type: application/json"]
                                            if bodies[0] else [])
    else:
        conns = min(GRPC_CONNECTIONS, per)
        per = per // conns * conns
        proto = ["-c", str(conns), "-m", str(per // conns), "-H", "content-type: application/grpc",
                 "-H", "te: trailers"]
    sequential = concurrency < len(bodies)  # e.g. 1: one request in flight at a time
    procs, logs, outs = [], [], []
    t0 = time.perf_counter()
    for i, body in enumerate(bodies):
        data, log = tmp / f"body{i}.bin", tmp / f"log{i}.tsv"
        data.write_bytes(body)
        logs.append(log)
        procs.append(subprocess.Popen(
            [h2load, *proto, "-t", "1", "-n", str(requests), "--log-file", str(log),
             *(["-d", str(data)] if body else []), f"http://127.0.0.1:{port}{path}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        if sequential:
            outs.append(procs[-1].communicate()[0])
    if not sequential:
        outs = [p.communicate()[0] for p in procs]
    wall = time.perf_counter() - t0
    done = failed = 0
    for out in outs:
        m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed", out)
        st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if not m or not st:
            raise RuntimeError(f"h2load output not understood:\n{out}")
        done += int(m.group(1))
        # an HTTP status other than 2xx is an error (gRPC's travel in trailers: see below)
        failed += int(m.group(3)) + sum(int(st.group(g)) for g in (2, 3, 4))
    lat = []
    for log in logs:  # start time (us), status, elapsed (us) per request
        for line in log.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                lat.append(int(parts[2]) / 1000)
    return {"done": done, "http_failed": failed, "req_per_s": done / wall, "latency_ms": lat,
            "streams": concurrency if sequential else per * len(bodies)}


def h2load_cell(h2load: str, pid: int, http_port: int, grpc_port: int, bodies: list[bytes],
                concurrency: int, requests: int, cpu_s: Callable[[int], float], *,
                rest: bool = False) -> dict[str, Any]:
    """One timed run against a started server (``pid``: its process, for ``cpu_s``); ``rest``:
    ``bodies`` are JSON for ``POST /v1/route``, else framed gRPC messages."""
    from latency import cpu_split_s, thread_cpu_s

    # every worker's counts of the calls before this cell in the shared files first: a
    # worker the scrape does not reach hands its counts on within FLUSH_S (accumulate.py),
    # and counted afterwards they would look like decisions h2load never asked for
    time.sleep(SETTLE_S)
    before, cpu0, threads0 = counters(http_port), cpu_s(pid), thread_cpu_s(pid)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as d:
        got = (run_h2load(h2load, http_port, bodies, concurrency, requests, Path(d),
                          REST_PATH, rest=True) if rest
               else run_h2load(h2load, grpc_port, bodies, concurrency, requests, Path(d)))
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1, threads1 = cpu_s(pid), thread_cpu_s(pid)
    time.sleep(SETTLE_S)  # every worker's counts in the shared files (accumulate.py)
    after = counters(http_port)
    split0, split1 = cpu_split_s(threads0), cpu_split_s(threads1)
    loops = {p: t - threads0.get((p, tid), 0.0) for (p, tid), t in threads1.items() if p == tid}
    decided = int(after["routeiq_decisions_total"] - before["routeiq_decisions_total"])
    client_cpu = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    lat = got.pop("latency_ms")
    return {
        "transport": "rest-h2load" if rest else "grpc-h2load",
        "concurrency": got["streams"], **got,
        "ok": decided, "decisions": decided,
        "rejected": int(after["routeiq_rejections_total"] - before["routeiq_rejections_total"]),
        # every request h2load finished is a decision, or an error
        "errors": got["http_failed"] + abs(got["done"] - decided),
        "p50_ms": float(np.percentile(lat, 50)) if lat else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if lat else float("nan"),
        "mean_ms": float(np.mean(lat)) if lat else float("nan"),
        "server_p50_ms": float("nan"),
        "throughput_rps": got["req_per_s"],
        "cpu_ms_per_decision": 1000 * (cpu1 - cpu0) / max(decided, 1),
        # of which the event loops' threads, and every other thread of the server
        "loop_cpu_ms_per_decision": 1000 * (split1[0] - split0[0]) / max(decided, 1),
        "threads_cpu_ms_per_decision": 1000 * (split1[1] - split0[1]) / max(decided, 1),
        # the busiest event loop's share of all the loops' CPU (1 / workers when balanced:
        # SO_REUSEPORT spreads connections, not requests, and gRPC uses few connections)
        "busiest_loop_share": max(loops.values(), default=0.0) / max(sum(loops.values()),
                                                                      1e-9),
        "h2load_cpu_ms_per_request": 1000 * client_cpu / max(decided, 1),
        "escalated_share": (after["escalated"] - before["escalated"]) / max(decided, 1),
        # kNN predictions per shared call (engine/coalesce.py), averaged over the run
        "predict_batch_mean": _delta(after, before, "routeiq_predict_batch_size_sum") / max(
            _delta(after, before, "routeiq_predict_batch_size_count"), 1.0),
    }


def _delta(after: dict[str, float], before: dict[str, float], key: str) -> float:
    return after[key] - before[key]


def health_floor(h2load: str, pid: int, port: int, concurrency: int, requests: int,
                 cpu_s: Callable[[int], float], *, rest: bool = False) -> dict[str, Any]:
    """Server CPU per call of an empty health check: grpc's own servicer (none of our code), or
    ``GET /healthz`` (the HTTP stack and a constant answer)."""
    cpu0 = cpu_s(pid)
    with tempfile.TemporaryDirectory() as d:
        if rest:
            got = run_h2load(h2load, port, [b""] * H2LOAD_PROMPTS, concurrency, requests,
                             Path(d), "/healthz", rest=True)
        else:
            got = run_h2load(h2load, port, [framed_raw(b"")] * H2LOAD_PROMPTS, concurrency,
                             requests, Path(d), HEALTH)
    lat = got.pop("latency_ms")
    kind = "rest" if rest else "grpc"
    return {"transport": f"{kind}-h2load health check", "concurrency": got["streams"], **got,
            "p50_ms": float(np.percentile(lat, 50)) if lat else float("nan"),
            "cpu_ms_per_call": 1000 * (cpu_s(pid) - cpu0) / max(got["done"], 1)}


def measure(args: argparse.Namespace, h2load: str, tier: str, workers: int,
            bodies: dict[str, list[bytes]], bundle: Path) -> list[dict[str, Any]]:
    """Every transport of ``bodies`` (``grpc``: framed messages, ``rest``: JSON) at every
    concurrency, ``args.repeat`` times, each run after its health-check floor."""
    from latency import cpu_s, start_server, stop_server

    env = {"ROUTEIQ_ENCODER": tier, "ROUTEIQ_ENCODER_PRECISION": "int8",
           "ROUTEIQ_EMBED_CACHE_SIZE": "0", "ROUTEIQ_LOG_DECISIONS": "false",
           "ROUTEIQ_MAX_IN_FLIGHT": "4096"}
    proc, http_port, grpc_port, _ = start_server(bundle, env, workers)
    rows = []
    try:
        for transport, bs in bodies.items():
            rest = transport == "rest"
            # warm the server (and every worker) before the timed runs
            h2load_cell(h2load, proc.pid, http_port, grpc_port, bs, len(bs) * 2, 200, cpu_s,
                        rest=rest)
            for c in args.concurrency:
                for rep in range(args.repeat):
                    f = health_floor(h2load, proc.pid, http_port if rest else grpc_port, c,
                                     args.requests, cpu_s, rest=rest)
                    rows.append({"tier": tier, "workers": workers, "repeat": rep, **f})
                    print(f"{tier} w={workers} {transport} c={f['concurrency']} rep={rep}: "
                          f"health check {f['req_per_s']:.0f} req/s, server CPU "
                          f"{f['cpu_ms_per_call']:.3f} ms/call", file=sys.stderr, flush=True)
                    r = h2load_cell(h2load, proc.pid, http_port, grpc_port, bs, c,
                                    args.requests, cpu_s, rest=rest)
                    rows.append({"tier": tier, "workers": workers, "repeat": rep, **r})
                    print(f"{tier} w={workers} {transport} c={r['concurrency']} rep={rep}: "
                          f"{r['req_per_s']:.0f} req/s p50 {r['p50_ms']:.2f} ms p99 "
                          f"{r['p99_ms']:.2f} ms, server CPU {r['cpu_ms_per_decision']:.2f}"
                          f" ms/decision (loops {r['loop_cpu_ms_per_decision']:.2f}, other "
                          f"threads {r['threads_cpu_ms_per_decision']:.2f}), h2load "
                          f"{r['h2load_cpu_ms_per_request']:.3f} ms/req, kNN predictions"
                          f" per call {r['predict_batch_mean']:.2f}, busiest loop's share "
                          f"{r['busiest_loop_share']:.2f}, errors {r['errors']}",
                          file=sys.stderr, flush=True)
    finally:
        stop_server(proc)
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    lines = ["| tier | workers | transport | streams | req/s (median) | p50 ms | p99 ms | server "
             "CPU ms/decision | of which event loops / other threads | kNN predictions per call "
             "| busiest loop's share of the loops' CPU | h2load CPU ms/request | errors (all "
             "runs) | health check: req/s, server CPU ms/call |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    routes = [r for r in rows if not r["transport"].endswith("health check")]
    keys = sorted({(r["tier"], r["workers"], r["transport"], r["concurrency"]) for r in routes})
    for key in keys:
        tier, w, transport, c = key
        rs = [r for r in routes if (r["tier"], r["workers"], r["transport"], r["concurrency"])
              == key]
        hs = [r for r in rows if r["transport"] == f"{transport} health check"
              and (r["tier"], r["workers"], r["concurrency"]) == (tier, w, c)]

        def med(key: str, rs: list[dict[str, Any]] = rs) -> float:
            return float(np.median([r[key] for r in rs]))

        floor = (f"{med('req_per_s', hs):.0f}, {med('cpu_ms_per_call', hs):.3f}" if hs
                 else "-")
        lines.append(f"| {tier} | {w} | {transport.removesuffix('-h2load')} | {c} | "
                     f"{med('req_per_s'):.0f} | {med('p50_ms'):.2f} | "
                     f"{med('p99_ms'):.2f} | {med('cpu_ms_per_decision'):.2f} | "
                     f"{med('loop_cpu_ms_per_decision'):.2f} / "
                     f"{med('threads_cpu_ms_per_decision'):.2f} | "
                     f"{med('predict_batch_mean'):.2f} | {med('busiest_loop_share'):.2f} | "
                     f"{med('h2load_cpu_ms_per_request'):.3f} | "
                     f"{sum(r['errors'] for r in rs)} | {floor} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tier", default="static", help="comma-separated: static,minilm,cascade")
    ap.add_argument("--transport", default="grpc", help="comma-separated: grpc,rest")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--concurrency", default="16,64", help="streams in all, per run")
    ap.add_argument("--prompts", type=int, default=H2LOAD_PROMPTS,
                    help="distinct prompts (h2load processes)")
    ap.add_argument("--grpc-connections", type=int, default=1,
                    help="HTTP/2 connections per h2load process (the kernel spreads connections, "
                    "not calls, over --workers)")
    ap.add_argument("--requests", type=int, default=3000, help="per prompt (h2load -n), per run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    global GRPC_CONNECTIONS
    GRPC_CONNECTIONS = max(1, args.grpc_connections)
    h2load = shutil.which("h2load")
    if h2load is None:
        sys.exit("h2load not found: apt-get install nghttp2-client")
    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    mix = [with_candidates(b, CANDIDATES) for b in mixed_requests(300, seed=1)]
    picked = pick_prompts(mix, args.prompts)
    encode: dict[str, Callable[[dict[str, Any]], bytes]] = {"grpc": framed, "rest": json_body}
    bodies = {t: [encode[t](b) for b in picked] for t in args.transport.split(",")}
    from latency import machine

    report: dict[str, Any] = {"machine": machine(), "command": " ".join(
        ["bench/grpc_h2load.py", *sys.argv[1:]]),
        "prompt_bytes": {t: [len(b) for b in bs] for t, bs in bodies.items()}}
    rows = []
    for tier in args.tier.split(","):
        for w in (int(x) for x in args.workers.split(",")):
            rows += measure(args, h2load, tier, w, bodies, bundle)
    report["runs"] = rows
    report["machine"]["load_avg_at_end"] = os.getloadavg()
    print(summary(rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
