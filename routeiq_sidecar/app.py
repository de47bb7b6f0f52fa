"""Builds the engine and serves REST + gRPC in one process and one event loop.

``Sidecar`` is usable from tests (``await sidecar.start()`` on port 0, read ``http_port`` /
``grpc_port``, ``await sidecar.stop()``) and from ``serve`` (signals, drain, reload).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2

from routeiq_sidecar.api.drain import MIN_CLOSE_S, reserve_s
from routeiq_sidecar.api.grpc import SERVICE_NAME, build_grpc_server
from routeiq_sidecar.api.http_protocol import parser_name, protocol_class
from routeiq_sidecar.api.pipeline import Pipeline
from routeiq_sidecar.api.rest import build_rest_app
from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine.catalogue import load_catalogue
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.errors import RouteIQError
from routeiq_sidecar.strategies.registry import Strategies, with_escalation
from routeiq_sidecar.telemetry.accumulate import FLUSH_S
from routeiq_sidecar.telemetry.tracing import Tracing

log = logging.getLogger("routeiq.app")


def bundle_path(settings: Settings) -> Path:
    return settings.bundle if settings.bundle is not None else ensure_default_bundle(settings.home)


def load_from_settings(settings: Settings) -> tuple[LoadedBundle, Strategies]:
    """The configured bundle and its strategies, built once here and handed to the engine."""
    bundle = load_bundle(
        bundle_path(settings),
        precision=settings.encoder_precision,
        threads=settings.intra_op_threads,
        encoder=settings.encoder,
    )
    return bundle, with_escalation(bundle)


def bind_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted sockets; also set it on the
    # listener (inherited on Linux). Without it, keep-alive answers wait ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: the sidecar drains both transports itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stamp(bundle: Path) -> tuple[int, int] | None:
    try:
        st = (bundle / "manifest.json").stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Sidecar:
    def __init__(self, settings: Settings, bundle: LoadedBundle | None = None) -> None:
        self.settings = settings
        self._bundle = bundle
        self.http_port = 0
        self.grpc_port = 0
        self.pipeline: Pipeline | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._grpc: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._stopped = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._manifest_stamp: tuple[int, int] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        assert self.pipeline is not None
        return self.pipeline.engine

    async def start(self, *, reuse_port: bool = False) -> None:
        s = self.settings
        if self._bundle is None:
            bundle, strategies = await asyncio.to_thread(load_from_settings, s)
        else:
            bundle = self._bundle
            strategies = await asyncio.to_thread(with_escalation, bundle)
        self._manifest_stamp = _stamp(bundle.path)
        catalogue = load_catalogue(s.catalogue)
        self.pipeline = Pipeline(
            Engine(s, bundle, catalogue, strategies=strategies),
            tracing=Tracing(s.otlp_endpoint),
            reloader=self.reload,
        )
        self.engine.loaded.batcher.start()
        await self.engine.warm_up()

        sock = bind_socket(s.http_host, s.http_port, reuse_port=reuse_port)
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_rest_app(self.pipeline),
            log_config=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=int(s.drain_grace_s) or None,
            http=protocol_class(s.header_timeout_s, s.http_parser),
        )
        self._uvicorn = _HttpServer(config)
        self._uvicorn_task = asyncio.create_task(self._uvicorn.serve(sockets=[sock]))
        while not self._uvicorn.started:
            if self._uvicorn_task.done():
                self._uvicorn_task.result()
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.01)

        self._grpc, health_servicer = build_grpc_server(
            self.pipeline, s.max_body_bytes, reuse_port=reuse_port
        )
        self._health = health_servicer
        self.grpc_port = self._grpc.add_insecure_port(host_port(s.grpc_host, s.grpc_port))
        if self.grpc_port == 0:
            raise RuntimeError(f"cannot bind gRPC to {host_port(s.grpc_host, s.grpc_port)}")
        await self._grpc.start()
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        if s.reload_poll_s > 0:
            self._watch_task = asyncio.create_task(self._watch_manifest(s.reload_poll_s))
        self._flush_task = asyncio.create_task(self._flush_metrics())
        log.info(
            "event loop %s, HTTP parser %s",
            type(asyncio.get_running_loop()).__module__.split(".")[0],
            parser_name(s.http_parser),
        )
        log.info(
            "listening http=%s grpc=%s bundle=%s version=%s",
            host_port(s.http_host, self.http_port),
            host_port(s.grpc_host, self.grpc_port),
            bundle.name,
            bundle.version,
        )

    async def reload(self) -> tuple[bool, str]:
        """Verify and load the configured bundle again; keep the old one on any failure.

        Reloads are serialised; the swap is one assignment, so each request sees one bundle."""
        async with self._reload_lock:
            try:
                bundle, strategies = await asyncio.to_thread(load_from_settings, self.settings)
                catalogue = load_catalogue(self.settings.catalogue)
            except RouteIQError as err:
                self.engine.metrics.reloads.labels("refused").inc()
                log.error("reload refused, still serving the old bundle: %s", err)
                return False, str(err)
            await self.engine.swap(bundle, catalogue, strategies)
            self._manifest_stamp = _stamp(bundle.path)
            self.engine.metrics.reloads.labels("ok").inc()
            log.info("reloaded bundle %s version %s", bundle.name, bundle.version)
            return True, f"serving {bundle.name} version {bundle.version}"

    async def _watch_manifest(self, every_s: float) -> None:
        """Reload when the bundle's manifest.json changes (e.g. a volume updated in place)."""
        while True:
            await asyncio.sleep(every_s)
            path = self.engine.loaded.bundle.path
            stamp = _stamp(path)
            if stamp != self._manifest_stamp:
                log.info("bundle manifest changed at %s: reloading", path)
                ok, _ = await self.reload()
                if not ok:
                    self._manifest_stamp = stamp  # do not retry the same bad bundle forever

    async def _flush_metrics(self) -> None:
        """The hot path's gathered counts into prometheus_client every ``FLUSH_S``, so the other
        workers' scrapes see them (a scrape of this worker flushes it first)."""
        while True:
            await asyncio.sleep(FLUSH_S)
            self.engine.metrics.flush()

    async def begin_drain(self) -> None:
        """/readyz and gRPC health turn NOT_SERVING; new requests get 503 / UNAVAILABLE."""
        if self.pipeline is not None:
            self.pipeline.draining = True
            self.pipeline.drain.begin()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()

    async def stop(self) -> None:
        """Drain within ``drain_grace_s`` (api/drain.py): refuse new calls with a retry hint
        while the listeners stay open, let running calls finish, end the ones still running
        when only the reserve is left, then close everything in what remains."""
        if self.pipeline is None or self._stopped.is_set():
            return
        grace = self.settings.drain_grace_s
        deadline = time.monotonic() + grace
        await self.begin_drain()
        if self._watch_task is not None:
            self._watch_task.cancel()
        drain = self.pipeline.drain
        if not await drain.settle(until=deadline - reserve_s(grace)):
            ended = drain.abort()
            self.engine.metrics.rejections.labels("unavailable").inc(ended)
            log.warning(
                "drain_grace_s %.1f s ending: %d calls still running answered UNAVAILABLE / 503",
                grace,
                ended,
            )
            await drain.settle(max(deadline, time.monotonic() + MIN_CLOSE_S), quiet_s=0)

        def left() -> float:
            return max(MIN_CLOSE_S, deadline - time.monotonic())

        async def stop_http() -> None:
            if self._uvicorn is not None and self._uvicorn_task is not None:
                self._uvicorn.should_exit = True  # closes the listener and idle connections
                try:
                    await asyncio.wait_for(asyncio.shield(self._uvicorn_task), left())
                except TimeoutError:
                    self._uvicorn_task.cancel()

        async def stop_grpc() -> None:
            if self._grpc is not None:
                await self._grpc.stop(left())  # nothing runs now: quick

        await asyncio.gather(stop_http(), stop_grpc())
        try:
            await asyncio.wait_for(self.engine.close(), left())
        except TimeoutError:
            log.warning("engine close did not finish within drain_grace_s")
        if self._flush_task is not None:
            self._flush_task.cancel()
        self.engine.metrics.flush()  # the last decisions (engine.close flushes too)
        await _in_thread(self.pipeline.tracing.shutdown, left())  # flush spans
        self._stopped.set()
        log.info("stopped")


def run_loop(main: Coroutine[Any, Any, None], event_loop: str = "auto") -> None:
    """``asyncio.run(main)`` on uvloop when ``event_loop`` is uvloop, or auto and installed."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if event_loop != "asyncio" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


async def _in_thread(fn: Callable[[], object], timeout: float) -> None:
    """Run ``fn`` in a daemon thread, waiting ``timeout`` at most (exit is not held up)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            fn()
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may have closed
                loop.call_soon_threadsafe(finish)

    threading.Thread(target=run, name="routeiq-exit", daemon=True).start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, timeout)


async def run_forever(
    settings: Settings, *, reuse_port: bool = False, on_ready: Callable[[], object] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT (then drain); SIGHUP reloads the bundle.

    Handlers go in before start-up, so a signal during start-up is not lost."""
    sidecar = Sidecar(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(
        signal.SIGHUP,
        lambda: asyncio.ensure_future(sidecar.reload()) if sidecar.pipeline else None,
    )
    await sidecar.start(reuse_port=reuse_port)
    if on_ready is not None:
        on_ready()  # `serve --workers`: a worker reports readiness to its parent
    await stop.wait()
    await sidecar.stop()
