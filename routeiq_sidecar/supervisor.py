"""``serve --workers N``: N processes share the HTTP and gRPC ports through SO_REUSEPORT.

The parent builds the default bundle once, reserves both ports (port 0 becomes a real port
shared by all workers), splits onnxruntime threads (cores / N each unless set), starts the
workers, logs one ``listening`` line when all are ready, and forwards SIGTERM / SIGHUP.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import signal
from multiprocessing.queues import Queue
from typing import Any

from routeiq_sidecar.config import Settings

log = logging.getLogger("routeiq.workers")


def _worker(settings_json: str, ready: Queue[Any]) -> None:
    from routeiq_sidecar import app
    from routeiq_sidecar.telemetry.logs import setup_logging

    settings = Settings.model_validate_json(settings_json)
    setup_logging(settings.log_level)
    asyncio.run(app.run_forever(settings, reuse_port=True, on_ready=lambda: ready.put(os.getpid())))


def run_workers(settings: Settings) -> int:
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
    return max(codes, default=0)
