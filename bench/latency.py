"""One-run latency benchmark of the three encoder tiers (MiniLM, static, cascade): the bare
encoder pass (the floor) vs the sidecar over REST and gRPC at concurrency 1, 16 and 64, with one
worker and with ``--workers 2``, throughput, server CPU per decision, RSS, cold start and long
conversations, against NadirClaw's figures of issue 17 as the reference ratio. Loopback only,
bounded in requests and time.

    .venv/bin/python bench/latency.py [--bundle DIR] [--tiers minilm,static,cascade]
        [--requests 300] [--repeat 3] [--workers 2] [--levels 1,16,64]

Each cell runs ``--repeat`` times on the same server (interleaved: every level and transport
once, then again) and reports the median of each figure; the raw runs are in the JSON. The REST
load comes from a minimal keep-alive HTTP client (``--rest-client httpx`` for httpx): on a
2-core machine the load generator shares the cores with the server it measures; ``--h2load``
adds gRPC cells loaded by nghttp2's h2load (C, ~0.1 ms of client CPU per call against grpc.aio's
0.2-0.5 ms; bench/grpc_h2load.py), transport ``grpc-h2load``, and a sequential REST cell
from h2load (``--h1``, one request in flight, the same eight prompts one after another),
transport ``rest-h2load``: the server's latency without the Python client's share of each
request. Server CPU per
decision (user + system time of the server's processes over a cell, divided by its answers) is
the figure least moved by other load on the machine.

Prints markdown tables and writes JSON (and a PNG when matplotlib is installed) under
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc_h2load  # noqa: E402
from grpc_h2load import H2LOAD_PROMPTS, framed, h2load_cell, json_body, pick_prompts  # noqa: E402

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.bundle.loader import encoder_for  # noqa: E402
from routeiq_sidecar.bundle.manifest import read_manifest  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import (  # noqa: E402
    run_grpc,
    run_rest,
    run_rest_raw,
    with_candidates,
)
from routeiq_sidecar.loadtest.prompts import (  # noqa: E402
    CANDIDATES,
    long_conversation,
    mixed_requests,
    prompt_of_tokens,
    selected_text,
)
from routeiq_sidecar.model.static_encoder import static_encoder_for  # noqa: E402

LISTENING = re.compile(r"listening http=(\S+):(\d+) grpc=(\S+):(\d+)")
# Issue 17, measured on a quiet 2-core machine: NadirClaw's decision API REST p50, and ours then
# (MiniLM int8); at concurrency 16 we served 328 req/s, 11.7x NadirClaw's throughput.
NADIRCLAW_REST_P50_MS = 29.4
EARLIER_REST_P50_MS = 19.9
NADIRCLAW_C16_RPS = 328 / 11.7


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "load_avg_at_start": os.getloadavg(),
    }


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a supervisor and its workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{tid}/children").read_text().split()
                todo += [int(k) for k in kids]
        except OSError:
            continue
    return out


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def pss_mb(pid: int) -> float:
    """Proportional set size of the process tree (shared pages counted once overall)."""
    total = 0.0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def _stat_cpu_s(path: str) -> float | None:
    """User + system CPU seconds in a /proc ``stat`` file, or None when it is gone."""
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return None


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process tree so far."""
    return sum(t for p in tree(pid) if (t := _stat_cpu_s(f"/proc/{p}/stat")) is not None)


def thread_cpu_s(pid: int) -> dict[tuple[int, int], float]:
    """CPU seconds so far of every thread of the process tree, by (process, thread) id."""
    out = {}
    for p in tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            t = _stat_cpu_s(f"/proc/{p}/task/{tid}/stat")
            if t is not None:
                out[(p, int(tid))] = t
    return out


def cpu_split_s(threads: dict[tuple[int, int], float]) -> tuple[float, float]:
    """A ``thread_cpu_s`` snapshot as (its processes' main threads, where each worker runs its
    event loop; every other thread: the kNN worker, the state file's query thread, grpc's
    poller and event-engine threads, onnxruntime)."""
    main = sum(t for (p, tid), t in threads.items() if p == tid)
    return main, sum(threads.values()) - main


def start_server(
    bundle: Path, env: dict[str, str], workers: int = 1
) -> tuple[subprocess.Popen[str], int, int, float]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "routeiq_sidecar", "serve", "--bundle", str(bundle),
           "--http-port", "0", "--grpc-port", "0"]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env, "ROUTEIQ_WORKERS": str(workers)},
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        m = LISTENING.search(line)
        if m:  # keep draining stderr so a full pipe never blocks the server
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(2)), int(m.group(4)), time.perf_counter() - t0
    raise RuntimeError("server did not start")


def stop_server(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(60)


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def bare_passes(
    bundle: Path, precision: str, texts: list[str], threads: int
) -> dict[str, list[float]]:
    """One call of each encoder per prompt, interleaved prompt by prompt (same machine noise)."""
    manifest = read_manifest(bundle)
    encoders: dict[str, Any] = {"minilm": encoder_for(bundle, manifest["encoder"], precision,
                                                      threads)}
    if "static" in manifest:
        encoders["static"] = static_encoder_for(bundle, manifest["static"])
    for enc in encoders.values():
        enc.encode(texts[:8])  # warm up
    lat: dict[str, list[float]] = {name: [] for name in encoders}
    for t in texts:
        for name, enc in encoders.items():
            s = time.perf_counter_ns()
            enc.encode([t])
            lat[name].append((time.perf_counter_ns() - s) / 1e6)
    return lat


def floor_stats(lat: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
            "throughput_rps": 1000 * len(lat) / sum(lat)}


def median_cell(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell's figures: the median over its repeats (the raw runs kept alongside)."""
    out = dict(runs[0])
    for key in ("p50_ms", "p99_ms", "mean_ms", "server_p50_ms", "throughput_rps",
                "cpu_ms_per_decision", "escalated_share"):
        out[key] = round(statistics.median(r[key] for r in runs), 3)
    out["errors"] = sum(r["errors"] for r in runs)
    out["ok"] = sum(r["ok"] for r in runs)
    out["repeats"] = len(runs)
    out.pop("statuses", None)
    return out


def measure_server(
    tier: str, workers: int, bundle: Path, env: dict[str, str], bodies: list[dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    rest = run_rest if args.rest_client == "httpx" else run_rest_raw
    levels = [int(c) for c in args.levels.split(",")]
    proc, http_port, grpc_port, cold = start_server(bundle, {**env, "ROUTEIQ_ENCODER": tier},
                                                    workers)
    base, target = f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    out: dict[str, Any] = {"tier": tier, "workers": workers, "cold_start_s": cold}
    raw: dict[tuple[str, int], list[dict[str, Any]]] = {}
    picked = pick_prompts(bodies, H2LOAD_PROMPTS)
    h2_bodies, h2_json = [framed(b) for b in picked], [json_body(b) for b in picked]
    try:
        warm = bodies[:50]
        asyncio.run(rest(base, warm, concurrency=4, max_seconds=30))
        asyncio.run(run_grpc(target, warm, concurrency=4, max_seconds=30))
        sequential_escalations: list[bool] = []
        for _ in range(args.repeat):
            for c in levels:
                for transport in ("rest", "grpc"):
                    c0 = cpu_s(proc.pid)
                    if transport == "rest":
                        r = asyncio.run(rest(base, bodies, concurrency=c,
                                             max_seconds=args.seconds))
                    else:
                        r = asyncio.run(run_grpc(target, bodies, concurrency=c,
                                                 max_seconds=args.seconds,
                                                 channels=min(c, args.grpc_channels)))
                    s = r.summary()
                    s["cpu_ms_per_decision"] = 1000 * (cpu_s(proc.pid) - c0) / max(1, r.ok)
                    raw.setdefault((transport, c), []).append(s)
                    if transport == "rest" and c == 1 and not sequential_escalations:
                        sequential_escalations = r.escalated  # in the prompts' order
                if args.h2load and c >= len(h2_bodies):
                    s = h2load_cell(args.h2load, proc.pid, http_port, grpc_port, h2_bodies, c,
                                    args.h2load_requests, cpu_s)
                    raw.setdefault(("grpc-h2load", s["concurrency"]), []).append(s)
                if args.h2load and c == 1:  # the sequential REST client in C: the server's
                    # latency without a Python client's own share of each request
                    s = h2load_cell(args.h2load, proc.pid, http_port, grpc_port, h2_json, 1,
                                    args.h2load_requests, cpu_s, rest=True)
                    raw.setdefault(("rest-h2load", 1), []).append(s)
        out["rss_mb_after_load"] = rss_mb(proc.pid)
        out["pss_mb_after_load"] = pss_mb(proc.pid)
        out["escalated_by_prompt"] = sequential_escalations
        if workers == 1 and not args.no_long:
            out["long_conversation"] = long_conversations(base, rest, args.seconds)
    finally:
        stop_server(proc)
    out["cells"] = [median_cell(v) for v in raw.values()]
    out["raw_runs"] = [r for v in raw.values() for r in v]
    return out


def long_conversations(base: str, rest: Any, seconds: float) -> dict[str, float]:
    n = 60
    short = [with_candidates({"prompt": prompt_of_tokens(256) + f" #{i}"}, CANDIDATES)
             for i in range(n)]
    long_ = []
    for i in range(n):
        conv = long_conversation(8000, 200)
        conv[-1] = {"role": "user", "content": prompt_of_tokens(256) + f" #{i}"}
        long_.append(with_candidates({"messages": conv}, CANDIDATES))
    s256 = asyncio.run(rest(base, short, concurrency=1, max_seconds=seconds)).summary()
    s8k = asyncio.run(rest(base, long_, concurrency=1, max_seconds=seconds)).summary()
    return {"p50_256_tokens_ms": s256["p50_ms"], "p50_8k_tokens_200_messages_ms": s8k["p50_ms"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--tiers", default="minilm,static,cascade")
    ap.add_argument("--levels", default="1,16,64", help="concurrency levels")
    ap.add_argument("--requests", type=int, default=300, help="requests per cell and repeat")
    ap.add_argument("--repeat", type=int, default=3, help="runs per cell (medians reported)")
    ap.add_argument("--workers", type=int, default=2, help="also measure serve --workers N "
                    "(1: one worker only)")
    ap.add_argument("--seconds", type=float, default=60, help="time cap per run")
    ap.add_argument("--rest-client", default="raw", choices=["raw", "httpx"])
    ap.add_argument("--grpc-channels", type=int, default=1, help="gRPC connections the load "
                    "generator spreads its callers over (one reaches one worker of --workers)")
    ap.add_argument("--no-long", action="store_true", help="skip the long-conversation runs")
    ap.add_argument("--h2load", nargs="?", const=shutil.which("h2load") or "h2load",
                    default=None, help="also load gRPC with nghttp2's h2load (C, "
                    "bench/grpc_h2load.py; optional path) at every level >= 8")
    ap.add_argument("--h2load-requests", type=int, default=1000,
                    help="requests per h2load process (one per prompt) per run")
    ap.add_argument("--h2load-connections", type=int, default=1,
                    help="HTTP/2 connections per h2load process (8 processes; more connections "
                    "spread the calls over --workers more evenly)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    grpc_h2load.GRPC_CONNECTIONS = max(1, args.h2load_connections)

    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    threads = os.cpu_count() or 1
    env = {
        "ROUTEIQ_ENCODER_PRECISION": args.precision,
        "ROUTEIQ_EMBED_CACHE_SIZE": "0",
        "ROUTEIQ_LOG_DECISIONS": "false",
        "ROUTEIQ_MAX_IN_FLIGHT": "4096",
    }
    tiers = args.tiers.split(",")
    report: dict[str, Any] = {
        "machine": machine(),
        "precision": args.precision,
        "bundle": str(bundle),
        "requests_per_run": args.requests,
        "repeat": args.repeat,
        "rest_client": args.rest_client,
        "command": " ".join(["bench/latency.py", *sys.argv[1:]]),
    }
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(args.requests, seed=1)]
    texts = [selected_text(b) for b in bodies]
    bare = bare_passes(bundle, args.precision, texts, threads)

    servers = []
    for tier in tiers:
        for w in sorted({1, args.workers}):
            servers.append(measure_server(tier, w, bundle, env, bodies, args))
    report["servers"] = servers
    report["bare"] = {k: floor_stats(v) for k, v in bare.items()}
    if "cascade" in tiers and "static" in bare:  # static pass, plus MiniLM where it escalated
        esc = next(s["escalated_by_prompt"] for s in servers if s["tier"] == "cascade")
        if len(esc) == len(texts):
            report["bare"]["cascade"] = floor_stats(
                [s + (m if e else 0.0) for s, m, e in zip(bare["static"], bare["minilm"], esc,
                                                           strict=True)]
            )
            report["bare"]["cascade"]["escalated_share"] = float(np.mean(esc))
    report["targets"] = targets(report)
    report["machine"]["load_avg_at_end"] = os.getloadavg()

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.out / f"latency-tiers-{args.precision}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(f"\nwritten {path}")
    plot(report, args.out / f"latency-tiers-{args.precision}-{stamp}.png")


def cell(rep: dict[str, Any], tier: str, workers: int, transport: str, c: int) -> dict[str, Any]:
    for s in rep["servers"]:
        if s["tier"] == tier and s["workers"] == workers:
            for r in s["cells"]:
                if r["transport"] == transport and r["concurrency"] == c:
                    return r
    return {}


def targets(rep: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    static_rest = cell(rep, "static", 1, "rest", 1)
    if static_rest and "static" in rep["bare"]:
        out["static_rest_c1_p50_ms (< 1.5)"] = static_rest["p50_ms"]
        out["static_rest_c1_p50_minus_bare_ms (<= 0.5)"] = (
            static_rest["p50_ms"] - rep["bare"]["static"]["p50_ms"])
    static_rest_c = cell(rep, "static", 1, "rest-h2load", 1)
    if static_rest_c and "static" in rep["bare"]:
        out["static_rest_h2load_c1_p50_ms (< 1.5)"] = static_rest_c["p50_ms"]
        out["static_rest_h2load_c1_p50_minus_bare_ms (<= 0.5)"] = (
            static_rest_c["p50_ms"] - rep["bare"]["static"]["p50_ms"])
    grpc_static = [r for s in rep["servers"] if s["tier"] == "static" for r in s["cells"]
                   if r["transport"].startswith("grpc")]  # grpc.aio's load, or h2load's
    if grpc_static:
        best = max(grpc_static, key=lambda r: r["throughput_rps"])
        workers = next(s["workers"] for s in rep["servers"] if best in s["cells"])
        out["static_grpc_best_decisions_per_s (>= 2000)"] = best["throughput_rps"]
        out["static_grpc_best_at"] = (f"c={best['concurrency']}, workers={workers}, "
                                      f"{best['transport']}")
        out["static_grpc_errors"] = sum(r["errors"] for r in grpc_static)
    for s in rep["servers"]:
        if s["workers"] != 1:
            continue
        r = cell(rep, s["tier"], 1, "rest", 1)
        if r:
            out[f"{s['tier']}_rest_c1_p50_nadirclaw_ratio"] = NADIRCLAW_REST_P50_MS / r["p50_ms"]
            out[f"{s['tier']}_rest_c1_p50_vs_earlier_19.9ms"] = EARLIER_REST_P50_MS / r["p50_ms"]
        r16 = cell(rep, s["tier"], 1, "rest", 16)
        if r16:
            out[f"{s['tier']}_rest_c16_throughput_nadirclaw_ratio"] = (
                r16["throughput_rps"] / NADIRCLAW_C16_RPS)
    return out


def render(rep: dict[str, Any]) -> str:
    m = rep["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, onnxruntime "
        f"{m['onnxruntime']}, load average {m['load_avg_at_start'][0]:.1f} at start, "
        f"{m['load_avg_at_end'][0]:.1f} at end; {rep['requests_per_run']} requests per run, "
        f"median of {rep['repeat']} runs per cell; REST client {rep['rest_client']}",
        "",
        "| tier | bare pass p50 ms | bare p99 ms | bare passes/s (1 thread of calls) |",
        "|---|---|---|---|",
    ]
    for name, f in rep["bare"].items():
        esc = f" (escalated {f['escalated_share']:.0%})" if "escalated_share" in f else ""
        lines.append(f"| {name}{esc} | {f['p50_ms']:.3f} | {f['p99_ms']:.3f} | "
                     f"{f['throughput_rps']:.0f} |")
    lines += [
        "",
        "| tier | workers | transport | conc. | p50 ms | p99 ms | req/s | server CPU ms/decision "
        "| escalated | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in rep["servers"]:
        for r in sorted(s["cells"], key=lambda r: (r["transport"] != "rest", r["concurrency"])):
            lines.append(
                f"| {s['tier']} | {s['workers']} | {r['transport']} | {r['concurrency']} | "
                f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['throughput_rps']:.0f} | "
                f"{r['cpu_ms_per_decision']:.2f} | {r['escalated_share']:.0%} | {r['errors']} |"
            )
    lines += ["", "| tier | workers | RSS MB (sum) | PSS MB | cold start s | long 8k/200 msgs "
              "p50 ms | 256 tokens p50 ms |", "|---|---|---|---|---|---|---|"]
    for s in rep["servers"]:
        lc = s.get("long_conversation", {})
        lines.append(
            f"| {s['tier']} | {s['workers']} | {s['rss_mb_after_load']:.0f} | "
            f"{s['pss_mb_after_load']:.0f} | {s['cold_start_s']:.1f} | "
            f"{lc.get('p50_8k_tokens_200_messages_ms', float('nan')):.2f} | "
            f"{lc.get('p50_256_tokens_ms', float('nan')):.2f} |"
        )
    lines += ["", "| target / reference | measured |", "|---|---|"]
    for k, v in rep["targets"].items():
        lines.append(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
    return "\n".join(lines)


def plot(rep: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for s in rep["servers"]:
        if s["workers"] != 1:
            continue
        for transport, style in (("rest", "o-"), ("grpc", "x--")):
            rs = sorted((r for r in s["cells"] if r["transport"] == transport),
                        key=lambda r: r["concurrency"])
            ax.plot([r["concurrency"] for r in rs], [r["p50_ms"] for r in rs], style,
                    label=f"{s['tier']} {transport} p50")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("concurrency")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"RouteIQ sidecar latency by tier ({rep['precision']}, 1 worker)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
