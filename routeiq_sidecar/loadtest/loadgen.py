"""An async, bounded load generator over REST and gRPC (loopback use; bounded in requests and
time). Each worker coroutine sends one request at a time, so ``concurrency`` is the number of
requests in flight."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import numpy as np
from google.protobuf import json_format

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc


@dataclass
class LoadResult:
    transport: str
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    server_total_us: list[int] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    escalated: list[bool] = field(default_factory=list)  # per answer, in completion order
    elapsed_s: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get("ok", 0)

    @property
    def errors(self) -> int:
        return sum(v for k, v in self.statuses.items() if k != "ok")

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        srv = np.asarray(self.server_total_us) / 1000 if self.server_total_us else np.zeros(1)
        return {
            "transport": self.transport,
            "concurrency": self.concurrency,
            "requests": len(self.latencies_ms),
            "ok": self.ok,
            "errors": self.errors,
            "statuses": dict(self.statuses),
            "p50_ms": round(float(np.percentile(lat, 50)), 3),
            "p99_ms": round(float(np.percentile(lat, 99)), 3),
            "mean_ms": round(float(lat.mean()), 3),
            "server_p50_ms": round(float(np.percentile(srv, 50)), 3),
            "escalated_share": round(float(np.mean(self.escalated)), 3) if self.escalated else 0.0,
            "throughput_rps": round(self.ok / self.elapsed_s, 1) if self.elapsed_s else 0.0,
        }

    def add(self, t0: float, status: str, total_us: Any = None, escalated: Any = None) -> None:
        """One finished request, sent at ``t0``; an answer's ``timings`` when it succeeded."""
        if total_us is not None:
            self.server_total_us.append(int(total_us))
            self.escalated.append(bool(escalated))
        self.latencies_ms.append((time.perf_counter() - t0) * 1000)
        self.statuses[status] += 1

    async def drive(self, worker: Callable[[], Awaitable[None]]) -> LoadResult:
        """Run ``concurrency`` copies of ``worker`` to the end and time them."""
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        self.elapsed_s = time.perf_counter() - t0
        return self


def with_candidates(body: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return {**body, "candidates": candidates} if "candidates" not in body else body


async def run_rest(
    base_url: str,
    bodies: list[dict[str, Any]],
    *,
    concurrency: int,
    max_seconds: float,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    res = LoadResult("rest", concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        queue = iter(bodies)
        stop_at = time.perf_counter() + max_seconds

        async def worker() -> None:
            for body in queue:
                if time.perf_counter() > stop_at:
                    return
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/route", json=body, headers=headers)
                except httpx.HTTPError as exc:
                    res.add(t0, type(exc).__name__)
                    continue
                if r.status_code != 200:
                    res.add(t0, str(r.status_code))
                    continue
                timings = r.json()["timings"]
                res.add(t0, "ok", timings["total_us"], timings["escalated"])

        return await res.drive(worker)


async def run_grpc(
    target: str,
    bodies: list[dict[str, Any]],
    *,
    concurrency: int,
    max_seconds: float,
    metadata: tuple[tuple[str, str], ...] = (),
    channels: int = 1,
) -> LoadResult:
    """``channels``: connections the callers share round-robin (each its own subchannel, so
    ``serve --workers N`` behind SO_REUSEPORT can get more than one of them)."""
    res = LoadResult("grpc", concurrency)
    reqs = [json_format.ParseDict(b, pb.RouteRequest()) for b in bodies]
    opts = [("grpc.use_local_subchannel_pool", 1)] if channels > 1 else []
    chans = [grpc.aio.insecure_channel(target, options=opts) for _ in range(max(1, channels))]
    try:
        stubs = [pb_grpc.RouterServiceStub(c) for c in chans]
        queue = iter(reqs)
        stop_at = time.perf_counter() + max_seconds

        pick = itertools.cycle(stubs)  # caller i uses connection i % channels

        async def worker() -> None:
            stub = next(pick)
            for req in queue:
                if time.perf_counter() > stop_at:
                    return
                t0 = time.perf_counter()
                try:
                    resp = await stub.Route(req, timeout=30, metadata=metadata)
                except grpc.aio.AioRpcError as err:
                    res.add(t0, err.code().name)
                    continue
                res.add(t0, "ok", resp.timings.total_us, resp.timings.escalated)

        return await res.drive(worker)
    finally:
        for c in chans:
            await c.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def run_rest_raw(
    base_url: str,
    bodies: list[dict[str, Any]],
    *,
    concurrency: int,
    max_seconds: float,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """``run_rest`` with a minimal HTTP/1.1 keep-alive client (bodies encoded up front, one
    connection per worker), so that on a small machine the load generator's own CPU weighs
    less on the server it measures. Loopback, answers with a Content-Length only."""
    host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    requests = []
    for body in bodies:
        data = json.dumps(body).encode()
        requests.append(
            f"POST /v1/route HTTP/1.1\r\nhost: {host}:{port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(data)}\r\n{extra}\r\n"
            .encode() + data
        )
    res = LoadResult("rest", concurrency)
    queue = iter(requests)
    stop_at = time.perf_counter() + max_seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for req in queue:
                if time.perf_counter() > stop_at:
                    return
                t0 = time.perf_counter()
                try:
                    writer.write(req)
                    code, payload = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError) as exc:
                    res.add(t0, type(exc).__name__)
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                    continue
                if code != 200:
                    res.add(t0, str(code))
                    continue
                timings = json.loads(payload)["timings"]
                res.add(t0, "ok", timings["total_us"], timings["escalated"])
        finally:
            writer.close()

    return await res.drive(worker)
