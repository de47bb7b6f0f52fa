"""``serve --workers N``: N processes share the HTTP and gRPC ports through SO_REUSEPORT.

The parent builds the default bundle once, reserves both ports (port 0 becomes a real port
shared by all workers), splits onnxruntime threads (cores / N each unless set), starts the
workers, logs one ``listening`` line when all are ready, and forwards SIGTERM / SIGHUP.

So that the workers agree, the parent makes a private temp folder (removed when it exits)
holding prometheus_client's multiprocess folder (``PROMETHEUS_MULTIPROC_DIR``: every worker's
``/metrics`` answers for all of them) and, without ``redis_url``, the SQLite file of their
shared state (``state_path``: a decision made by one worker takes feedback at any other).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from routeiq_sidecar.config import Settings

log = logging.getLogger("routeiq.workers")


def _worker(settings_json: str, ready: Queue[Any]) -> None:
    from routeiq_sidecar import app
    from routeiq_sidecar.telemetry.logs import setup_logging

    settings = Settings.model_validate_json(settings_json)
    setup_logging(settings.log_level)
    app.run_loop(
        app.run_forever(settings, reuse_port=True, on_ready=lambda: ready.put(os.getpid())),
        settings.event_loop,
    )


def run_workers(settings: Settings) -> int:
    shared = Path(tempfile.mkdtemp(prefix="routeiq-workers-"))
    try:
        return _run_workers(settings, shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def shared_state(settings: Settings, shared: Path) -> dict[str, Any]:
    """Point the workers at the shared metrics folder (environment, inherited by spawn) and,
    without Redis, at a shared SQLite state file; the settings to update in the children."""
    metrics_dir = shared / "metrics"
    metrics_dir.mkdir()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if settings.redis_url or settings.state_path is not None:
        return {}
    from routeiq_sidecar.state.sqlite_store import create_schema

    path = shared / "state.sqlite3"
    create_schema(path)
    return {"state_path": path}


def _run_workers(settings: Settings, shared: Path) -> int:
    from prometheus_client import multiprocess

    from routeiq_sidecar.app import bind_socket, bundle_path, host_port

    bundle = bundle_path(settings)  # build the default bundle once, before the workers
    http = bind_socket(settings.http_host, settings.http_port, reuse_port=True)
    grpc_sock = bind_socket(settings.grpc_host, settings.grpc_port, reuse_port=True)
    http_port, grpc_port = http.getsockname()[1], grpc_sock.getsockname()[1]
    threads = settings.intra_op_threads or max(1, (os.cpu_count() or 1) // settings.workers)
    child = settings.model_copy(
        update={
            "http_port": http_port,
            "grpc_port": grpc_port,
            "bundle": bundle,
            "workers": 1,
            "intra_op_threads": threads,
            **shared_state(settings, shared),
        }
    )
    ctx = mp.get_context("spawn")
    ready: Queue[Any] = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(child.model_dump_json(), ready), daemon=False)
        for _ in range(settings.workers)
    ]
    for p in procs:
        p.start()

    def forward(sig: int, _frame: Any) -> None:
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, sig)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    started = 0
    while started < len(procs):
        try:
            ready.get(timeout=1.0)
            started += 1
        except Exception:
            if any(not p.is_alive() for p in procs):
                log.error("a worker exited during start-up")
                forward(signal.SIGTERM, None)
                break
    if started == len(procs):
        log.info(
            "listening http=%s grpc=%s workers=%d threads_per_worker=%d",
            host_port(settings.http_host, http_port),
            host_port(settings.grpc_host, grpc_port),
            len(procs),
            threads,
        )
    http.close()
    grpc_sock.close()
    codes = []
    for p in procs:
        p.join()
        codes.append(p.exitcode or 0)
        if p.pid is not None:  # its live gauges leave the sums
            multiprocess.mark_process_dead(p.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return max(codes, default=0)
