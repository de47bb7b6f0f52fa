"""Bounded soak (loopback): a real sidecar under mixed REST + gRPC load for a few minutes,
with feedback; reports errors, latency per interval and RSS growth.

    .venv/bin/python bench/soak.py [--bundle DIR] [--minutes 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from latency import machine, rss_mb, start_server  # noqa: E402

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.loadtest.loadgen import run_grpc, run_rest, with_candidates  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests  # noqa: E402


async def interval(base: str, target: str, seconds: float, conc: int, seed: int) -> dict[str, Any]:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(100_000, seed=seed)]
    half = max(1, conc // 2)
    r, g = await asyncio.gather(
        run_rest(base, bodies, concurrency=half, max_seconds=seconds),
        run_grpc(target, bodies[50_000:], concurrency=half, max_seconds=seconds),
    )
    return {"rest": r.summary(), "grpc": g.summary()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--interval", type=float, default=30.0, help="seconds per sample")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    env = {"ROUTEIQ_LOG_DECISIONS": "false", "ROUTEIQ_MAX_IN_FLIGHT": "4096"}
    proc, http_port, grpc_port, _ = start_server(bundle, env)
    base, target = f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    samples: list[dict[str, Any]] = []
    try:
        rss0 = rss_mb(proc.pid)
        end = time.monotonic() + args.minutes * 60
        i = 0
        while time.monotonic() < end:
            s = asyncio.run(interval(base, target, args.interval, args.concurrency, seed=i))
            s["rss_mb"] = rss_mb(proc.pid)
            s["t_s"] = round(args.minutes * 60 - (end - time.monotonic()), 1)
            samples.append(s)
            print(json.dumps({"t_s": s["t_s"], "rss_mb": round(s["rss_mb"], 1),
                              "rest_p50": s["rest"]["p50_ms"], "grpc_p50": s["grpc"]["p50_ms"],
                              "errors": s["rest"]["errors"] + s["grpc"]["errors"]}), flush=True)
            i += 1
    finally:
        proc.terminate()
        code = proc.wait(60)
    total = sum(s["rest"]["requests"] + s["grpc"]["requests"] for s in samples)
    errors = sum(s["rest"]["errors"] + s["grpc"]["errors"] for s in samples)
    report = {
        "machine": machine(), "minutes": args.minutes, "concurrency": args.concurrency,
        "requests": total, "errors": errors, "rss_start_mb": rss0,
        "rss_after_first_interval_mb": samples[0]["rss_mb"] if samples else None,
        "rss_end_mb": samples[-1]["rss_mb"] if samples else None, "exit_code": code,
        "samples": samples,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
