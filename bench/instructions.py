"""Instructions per decision, counted by valgrind: a CPU-cost figure that a busy shared host
does not move (wall and CPU times on these 2-core machines swing 2x within the hour).

Runs the latency benchmark's mixed requests through ``Engine.route`` in process (the REST body
read included: ``parse_json`` and ``route_in``), under ``valgrind --tool=callgrind``, once with
``--decisions`` decisions and once with none; the difference over ``--decisions`` is the
instructions (Ir) of one decision, start-up (bundle hashing, imports) cancelled out. Both
children run with ``PYTHONHASHSEED=0``; repeated runs agree to about 0.02% of start-up,
0.5% of a 400-decision difference.

    apt-get install valgrind
    .venv/bin/python bench/instructions.py [--encoder static] [--decisions 400]
        [--multiprocess] [--no-metrics]

``--multiprocess``: prometheus_client in multiprocess mode, as under ``serve --workers N``.
``--no-metrics``: prometheus_client's ``inc``/``observe``/``dec`` replaced by no-ops in the
child, so the difference to a run without it is what the metrics cost. Each child takes about
1.5 minutes (valgrind runs Python ~50x slower); the two run side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


async def decisions(encoder: str, n: int) -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from engine_path import bench_engine, json_bytes

    from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
    from routeiq_sidecar.api.convert import parse_json, route_in
    from routeiq_sidecar.loadtest.loadgen import with_candidates
    from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests

    engine = bench_engine(encoder, None)
    raws = [json_bytes(with_candidates(b, CANDIDATES)) for b in mixed_requests(100, seed=1)]
    await engine.warm_up()
    for i in range(30 + n):  # 30 to warm the caches of both runs alike, then the counted ones
        await engine.route(route_in(parse_json(raws[i % len(raws)], pb.RouteRequest()), f"r{i}"))
    await engine.close()


def no_metrics() -> None:
    import prometheus_client.metrics as m

    m.Histogram.observe = lambda self, amount, exemplar=None: None  # type: ignore[method-assign]
    m.Counter.inc = lambda self, amount=1, exemplar=None: None  # type: ignore[method-assign]
    m.Gauge.inc = lambda self, amount=1: None  # type: ignore[method-assign]
    m.Gauge.dec = lambda self, amount=1: None  # type: ignore[method-assign]


def child(args: argparse.Namespace) -> None:
    if args.no_metrics:
        no_metrics()
    asyncio.run(decisions(args.encoder, args.child))


def counted(args: argparse.Namespace, n: int, mp_dir: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONHASHSEED"] = "0"
    if mp_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = mp_dir
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
           __file__, "--child", str(n), "--encoder", args.encoder,
           *(["--no-metrics"] if args.no_metrics else [])]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def instructions(proc: subprocess.Popen[str]) -> int:
    _, err = proc.communicate()
    m = COLLECTED.search(err)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"valgrind child failed ({proc.returncode}):\n{err[-2000:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--encoder", default="static", choices=["static", "minilm"])
    ap.add_argument("--decisions", type=int, default=400)
    ap.add_argument("--multiprocess", action="store_true")
    ap.add_argument("--no-metrics", action="store_true")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind not found: apt-get install valgrind", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        runs = [counted(args, n, d if args.multiprocess else None)
                for n, d in ((0, a), (args.decisions, b))]
        base, full = (instructions(p) for p in runs)
    per = (full - base) / args.decisions
    print(f"{args.encoder}{', multiprocess' if args.multiprocess else ''}"
          f"{', metrics off' if args.no_metrics else ''}: {per:,.0f} instructions per decision "
          f"({args.decisions} decisions: {full:,} - {base:,} at start-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
