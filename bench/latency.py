"""One-run latency benchmark: bare onnxruntime encoder (the floor) vs the sidecar over REST and
gRPC at concurrency 1, 8 and 32, long conversations, RSS and cold start, with the ratios of
issue 5. Loopback only, bounded in requests and time.

    .venv/bin/python bench/latency.py [--bundle DIR] [--precision int8|fp32] [--requests 300]

Prints a markdown table and writes JSON (and a PNG when matplotlib is installed) under
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
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

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.bundle.loader import encoder_for  # noqa: E402
from routeiq_sidecar.bundle.manifest import read_manifest  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import run_grpc, run_rest, with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import (  # noqa: E402
    CANDIDATES,
    long_conversation,
    mixed_requests,
    prompt_of_tokens,
    selected_text,
)

LISTENING = re.compile(r"listening http=(\S+):(\d+) grpc=(\S+):(\d+)")


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(
    bundle: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[str], int, int, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "routeiq_sidecar",
            "serve",
            "--bundle",
            str(bundle),
            "--http-port",
            "0",
            "--grpc-port",
            "0",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env},
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        m = LISTENING.search(line)
        if m:  # keep draining stderr so a full pipe never blocks the server
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(2)), int(m.group(4)), time.perf_counter() - t0
    raise RuntimeError("server did not start")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def bare_floor(bundle: Path, precision: str, texts: list[str], threads: int) -> dict[str, Any]:
    enc = encoder_for(bundle, read_manifest(bundle)["encoder"], precision, threads)
    enc.encode(["warm up"])
    lat = []
    t0 = time.perf_counter()
    for t in texts:
        s = time.perf_counter()
        enc.encode([t])
        lat.append((time.perf_counter() - s) * 1000)
    total = time.perf_counter() - t0
    return {"p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "throughput_rps": len(texts) / total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    ap.add_argument("--requests", type=int, default=300, help="requests per level")
    ap.add_argument("--seconds", type=float, default=60, help="time cap per level")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    threads = os.cpu_count() or 1
    env = {
        "ROUTEIQ_ENCODER_PRECISION": args.precision,
        "ROUTEIQ_EMBED_CACHE_SIZE": "0",
        "ROUTEIQ_LOG_DECISIONS": "false",
        "ROUTEIQ_MAX_IN_FLIGHT": "4096",
    }
    report: dict[str, Any] = {
        "machine": machine(),
        "precision": args.precision,
        "bundle": str(bundle),
        "requests_per_level": args.requests,
    }

    colds = []
    for _ in range(3):
        proc, _, _, cold = start_server(bundle, env)
        colds.append(cold)
        proc.terminate()
        proc.wait(30)
    report["cold_start_s"] = {"median": statistics.median(colds), "runs": colds}

    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(args.requests, seed=1)]
    texts = [selected_text(b) for b in bodies]
    report["bare_encoder"] = bare_floor(bundle, args.precision, texts, threads)

    proc, http_port, grpc_port, _ = start_server(bundle, env)
    base, target = f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    runs: list[dict[str, Any]] = []
    try:
        asyncio.run(run_rest(base, bodies[:20], concurrency=1, max_seconds=30))  # warm up
        for c in (1, 8, 32):
            r = asyncio.run(run_rest(base, bodies, concurrency=c, max_seconds=args.seconds))
            g = asyncio.run(run_grpc(target, bodies, concurrency=c, max_seconds=args.seconds))
            runs += [r.summary(), g.summary()]
        report["rss_mb_after_load"] = rss_mb(proc.pid)

        n = 60
        short = [
            with_candidates({"prompt": prompt_of_tokens(256) + f" #{i}"}, CANDIDATES)
            for i in range(n)
        ]
        long_ = []
        for i in range(n):
            conv = long_conversation(8000, 200)
            conv[-1] = {"role": "user", "content": prompt_of_tokens(256) + f" #{i}"}
            long_.append(with_candidates({"messages": conv}, CANDIDATES))
        s256 = asyncio.run(run_rest(base, short, concurrency=1, max_seconds=args.seconds))
        s8k = asyncio.run(run_rest(base, long_, concurrency=1, max_seconds=args.seconds))
        report["long_conversation"] = {
            "p50_256_tokens_ms": s256.summary()["p50_ms"],
            "p50_8k_tokens_200_messages_ms": s8k.summary()["p50_ms"],
        }
    finally:
        proc.terminate()
        proc.wait(30)
    report["runs"] = runs

    floor = report["bare_encoder"]
    by = {(r["transport"], r["concurrency"]): r for r in runs}
    lc = report["long_conversation"]
    report["targets"] = {
        "c1_grpc_p50_minus_bare_ms": by[("grpc", 1)]["p50_ms"] - floor["p50_ms"],
        "c1_rest_p50_minus_bare_ms": by[("rest", 1)]["p50_ms"] - floor["p50_ms"],
        "c32_rest_throughput_over_sequential_bare": by[("rest", 32)]["throughput_rps"]
        / floor["throughput_rps"],
        "c32_grpc_throughput_over_sequential_bare": by[("grpc", 32)]["throughput_rps"]
        / floor["throughput_rps"],
        "c32_rest_p99_over_p50": by[("rest", 32)]["p99_ms"] / by[("rest", 32)]["p50_ms"],
        "c32_grpc_p99_over_p50": by[("grpc", 32)]["p99_ms"] / by[("grpc", 32)]["p50_ms"],
        "rss_mb": report["rss_mb_after_load"],
        "cold_start_s": report["cold_start_s"]["median"],
        "long_over_256": lc["p50_8k_tokens_200_messages_ms"] / lc["p50_256_tokens_ms"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (args.out / f"latency-{args.precision}-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(render(report))
    plot(report, args.out / f"latency-{args.precision}-{stamp}.png")


def render(rep: dict[str, Any]) -> str:
    f = rep["bare_encoder"]
    lines = [
        f"machine: {rep['machine']['cpu']}, {rep['machine']['cores']} cores, onnxruntime "
        f"{rep['machine']['onnxruntime']}, precision {rep['precision']}",
        "",
        "| path | concurrency | p50 ms | p99 ms | throughput req/s | errors |",
        "|---|---|---|---|---|---|",
        f"| bare encoder (floor) | 1 | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | "
        f"{f['throughput_rps']:.1f} | 0 |",
    ]
    for r in rep["runs"]:
        lines.append(
            f"| sidecar {r['transport']} | {r['concurrency']} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['throughput_rps']:.1f} | {r['errors']} |"
        )
    lines += ["", "| target | measured |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in rep["targets"].items()]
    return "\n".join(lines)


def plot(rep: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for transport in ("rest", "grpc"):
        rs = [r for r in rep["runs"] if r["transport"] == transport]
        ax.plot(
            [r["concurrency"] for r in rs],
            [r["p50_ms"] for r in rs],
            "o-",
            label=f"{transport} p50",
        )
        ax.plot(
            [r["concurrency"] for r in rs],
            [r["p99_ms"] for r in rs],
            "x--",
            label=f"{transport} p99",
        )
    ax.axhline(rep["bare_encoder"]["p50_ms"], color="gray", ls=":", label="bare encoder p50")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrency")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"RouteIQ sidecar latency ({rep['precision']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
