"""Instructions per decision, counted by valgrind: a CPU-cost figure that a busy shared host
does not move (wall and CPU times on these 2-core machines swing 2x within the hour).

Runs the latency benchmark's mixed requests through ``Engine.route`` in process (the REST body
read included: ``parse_json`` and ``route_in``) under ``valgrind --tool=callgrind``: after 30
warm-up decisions ``callgrind_control --zero`` resets the counts, after ``--decisions`` more
``callgrind_control --dump`` writes them, so start-up (bundle hashing, imports) is not counted.
The child runs with ``PYTHONHASHSEED=0``, one BLAS thread and the kNN on the event loop (as a
sequential client gets it).

    apt-get install valgrind
    .venv/bin/python bench/instructions.py [--encoder static] [--decisions 400]
        [--multiprocess] [--no-metrics]

``--multiprocess``: prometheus_client in multiprocess mode, as under ``serve --workers N``.
``--no-metrics``: prometheus_client's ``inc``/``observe``/``dec`` replaced by no-ops in the
child, so the difference to a run without it is what the metrics cost. A run takes about two
minutes (valgrind runs Python ~50x slower).
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
SUMMARY = re.compile(r"^(?:summary|totals):\s*(\d+)", re.M)


def handshake(word: str) -> None:
    """Tell the parent where the child is, and wait until it has told callgrind."""
    print(word, flush=True)
    sys.stdin.readline()


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
    for i in range(30 + n):  # 30 to warm the caches, then the counted ones
        if i == 30:
            handshake("ZERO")
        await engine.route(route_in(parse_json(raws[i % len(raws)], pb.RouteRequest()), f"r{i}"))
    handshake("DUMP")
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


def counted(args: argparse.Namespace, out: Path, mp_dir: str | None) -> int:
    """Instructions of ``args.decisions`` decisions in one valgrind child."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONHASHSEED"] = "0"
    # one BLAS thread: OpenBLAS's idle workers spin, and under valgrind (one thread at a time)
    # their spinning counts differently from run to run
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    # the kNN of a lone decision on the loop, as a sequential client gets it on a normal host:
    # valgrind makes a run ~50x slower than predict_on_loop_max_us' 1 ms, which would send
    # every run through the worker thread, whose hand-offs count differently run to run
    env["ROUTEIQ_PREDICT_ON_LOOP_MAX_US"] = "100000"
    if mp_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = mp_dir
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
           __file__, "--child", str(args.decisions), "--encoder", args.encoder,
           *(["--no-metrics"] if args.no_metrics else [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for word, command in (("ZERO", "--zero"), ("DUMP", "--dump=decisions")):
            line = proc.stdout.readline().strip()
            if line != word:
                raise RuntimeError(f"child said {line!r}, expected {word}")
            subprocess.run(["callgrind_control", command, str(proc.pid)], check=True,
                           capture_output=True)
            proc.stdin.write("\n")
            proc.stdin.flush()
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        raise RuntimeError(f"valgrind child failed ({proc.returncode}):\n{err[-2000:]}")
    m = SUMMARY.search(Path(f"{out}.1").read_text())
    if m is None:
        raise RuntimeError(f"no summary in {out}.1")
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
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind not found: apt-get install valgrind", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        total = counted(args, Path(tmp) / "callgrind.out",
                        str(Path(tmp)) if args.multiprocess else None)
    print(f"{args.encoder}{', multiprocess' if args.multiprocess else ''}"
          f"{', metrics off' if args.no_metrics else ''}: {total / args.decisions:,.0f} "
          f"instructions per decision ({total:,} for {args.decisions} decisions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
