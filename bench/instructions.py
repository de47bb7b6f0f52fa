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
        [--multiprocess] [--no-metrics] [--server rest|grpc [--floor]] [--objects N]

``--server rest|grpc``: the whole server instead (``routeiq-sidecar serve``, one worker, under
valgrind), called sequentially from this process over HTTP/1.1 keep-alive or one gRPC channel:
the transport's cost per call is in the count. With ``--floor`` the calls are the transport's
cheapest (``GET /healthz``, the gRPC health ``Check``), so the difference is what a decision
costs above the transport's floor. The count covers every thread of the server (grpc's poller
included) for the span of the counted calls.

``--objects N``: also the N shared objects with the most self instructions (``libpython``
is the interpreter running Python code; ``cygrpc``, ``onnxruntime``, numpy's ``_multiarray``
their own C).

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
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^(?:summary|totals):\s*(\d+)", re.M)
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # the package, and engine_path / latency
OBJECTS = 0  # --objects: how many shared objects to list by their self instructions


def handshake(word: str) -> None:
    """Tell the parent where the child is, and wait until it has told callgrind."""
    print(word, flush=True)
    sys.stdin.readline()


async def decisions(encoder: str, n: int) -> None:
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


def child_env(mp_dir: str | None) -> dict[str, str]:
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
    return env


def callgrind(pid: int, command: str) -> None:
    subprocess.run(["callgrind_control", command, str(pid)], check=True, capture_output=True)


def dumped_total(out: Path) -> int:
    m = SUMMARY.search(Path(f"{out}.1").read_text())
    if m is None:
        raise RuntimeError(f"no summary in {out}.1")
    if OBJECTS:
        shares = by_object(out)
        total = max(sum(shares.values()), 1)
        for name, n in list(shares.items())[:OBJECTS]:
            print(f"  {100 * n / total:5.1f}%  {name}")
    return int(m.group(1))


def by_object(out: Path) -> dict[str, int]:
    """Self instructions per shared object (libpython: interpreted Python; grpc's cygrpc;
    onnxruntime; numpy...) of the dump ``{out}.1``: each cost line counts for the object of
    its function, except the line after ``calls=`` (a callee's inclusive cost)."""
    names: dict[str, str] = {}
    totals: dict[str, int] = {}
    current, skip = "?", False
    for line in Path(f"{out}.1").read_text().splitlines():
        if line.startswith(("ob=", "cob=")):  # a name is defined where it first appears
            ref, _, name = line.partition("=")[2].partition(" ")
            if name:
                names[ref] = Path(name).name
            if line.startswith("ob="):
                current = names.get(ref, ref)
        elif line.startswith("calls="):
            skip = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if skip:
                skip = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                totals[current] = totals.get(current, 0) + int(parts[1])
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def valgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]


def counted(args: argparse.Namespace, out: Path, mp_dir: str | None) -> int:
    """Instructions of ``args.decisions`` decisions in one valgrind child."""
    cmd = [*valgrind(out), __file__, "--child", str(args.decisions), "--encoder", args.encoder,
           *(["--no-metrics"] if args.no_metrics else [])]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(mp_dir), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for word, command in (("ZERO", "--zero"), ("DUMP", "--dump=decisions")):
            line = proc.stdout.readline().strip()
            if line != word:
                raise RuntimeError(f"child said {line!r}, expected {word}")
            callgrind(proc.pid, command)
            proc.stdin.write("\n")
            proc.stdin.flush()
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        raise RuntimeError(f"valgrind child failed ({proc.returncode}):\n{err[-2000:]}")
    return dumped_total(out)


Call = Callable[[int], None]


def caller(transport: str, port: int, floor: bool) -> tuple[Call, Callable[[], None]]:
    """``(call(i), close)``: the ``i``-th request of the mix (or the floor call), checked."""
    import http.client

    import grpc
    from engine_path import json_bytes

    from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
    from routeiq_sidecar.api.convert import parse_json
    from routeiq_sidecar.loadtest.loadgen import with_candidates
    from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests

    raws = [json_bytes(with_candidates(b, CANDIDATES)) for b in mixed_requests(100, seed=1)]
    if transport == "rest":
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

        def call_rest(i: int) -> None:
            if floor:
                conn.request("GET", "/healthz")
            else:
                conn.request("POST", "/v1/route", body=raws[i % len(raws)],
                             headers={"content-type": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body[:300]!r}")

        return call_rest, conn.close
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    protos = [parse_json(r, pb.RouteRequest()).SerializeToString() for r in raws]
    route = channel.unary_unary("/routeiq.v1.RouterService/Route")
    health = health_pb2_grpc.HealthStub(channel)

    def call_grpc(i: int) -> None:
        if floor:
            health.Check(health_pb2.HealthCheckRequest(), timeout=600)
        else:
            route(protos[i % len(protos)], timeout=600)

    return call_grpc, channel.close


def server_counted(args: argparse.Namespace, out: Path, mp_dir: str | None) -> int:
    """Instructions of ``args.decisions`` calls to a whole server (one worker) under valgrind."""
    from latency import LISTENING

    env = child_env(mp_dir)
    env.update({"ROUTEIQ_ENCODER": args.encoder, "ROUTEIQ_EMBED_CACHE_SIZE": "0",
                "ROUTEIQ_LOG_DECISIONS": "false", "ROUTEIQ_ENCODER_PRECISION": "int8",
                "ROUTEIQ_WORKERS": "1"})
    with tempfile.TemporaryDirectory() as site:
        if args.no_metrics:  # the server is not this script: patch it at interpreter start
            (Path(site) / "sitecustomize.py").write_text(
                f"import sys\nsys.path.insert(0, {str(ROOT / 'bench')!r})\n"
                "from instructions import no_metrics\nno_metrics()\n")
            env["PYTHONPATH"] = os.pathsep.join([site, env.get("PYTHONPATH", "")])
        cmd = [*valgrind(out), "-m", "routeiq_sidecar", "serve", "--http-port", "0",
               "--grpc-port", "0"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        try:
            for line in proc.stderr:
                m = LISTENING.search(line)
                if m:
                    break
            else:
                raise RuntimeError("the server did not start under valgrind")
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            port = int(m.group(2) if args.server == "rest" else m.group(4))
            call, close = caller(args.server, port, args.floor)
            for i in range(30):  # warm the caches
                call(i)
            callgrind(proc.pid, "--zero")
            for i in range(args.decisions):
                call(30 + i)
            callgrind(proc.pid, "--dump=calls")
            close()
        finally:
            proc.terminate()
            try:
                proc.wait(300)
            except subprocess.TimeoutExpired:
                proc.kill()
    return dumped_total(out)


def ensure_bundle() -> None:
    """Build the default bundle outside valgrind (under it the build would take hours)."""
    from routeiq_sidecar.app import bundle_path
    from routeiq_sidecar.config import load_settings

    bundle_path(load_settings())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--encoder", default="static", choices=["static", "minilm"])
    ap.add_argument("--decisions", type=int, default=400)
    ap.add_argument("--multiprocess", action="store_true")
    ap.add_argument("--no-metrics", action="store_true")
    ap.add_argument("--server", choices=["rest", "grpc"], default=None,
                    help="count a whole server's instructions per call over this transport")
    ap.add_argument("--floor", action="store_true",
                    help="with --server: the transport's cheapest call instead of a decision")
    ap.add_argument("--objects", type=int, default=0,
                    help="also list the N shared objects with the most self instructions")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind not found: apt-get install valgrind", file=sys.stderr)
        return 2
    global OBJECTS
    OBJECTS = args.objects
    if args.floor and args.server is None:
        ap.error("--floor needs --server")
    ensure_bundle()
    with tempfile.TemporaryDirectory() as tmp:
        mp_dir = str(Path(tmp)) if args.multiprocess else None
        out = Path(tmp) / "callgrind.out"
        total = (server_counted(args, out, mp_dir) if args.server else
                 counted(args, out, mp_dir))
    what = ("decision" if not args.floor else
            "health check" if args.server == "grpc" else "GET /healthz")
    where = f", {args.server} server" if args.server else ""
    print(f"{args.encoder}{where}{', multiprocess' if args.multiprocess else ''}"
          f"{', metrics off' if args.no_metrics else ''}: {total / args.decisions:,.0f} "
          f"instructions per {what} ({total:,} for {args.decisions} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
