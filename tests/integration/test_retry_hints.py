"""Retry hints on real servers: gRPC refusals that are worth retrying carry
``grpc-retry-pushback-ms`` (with ``x-request-id``) in their trailing metadata; feedback refused
during a real Redis outage carries ``Retry-After`` (REST) and the pushback (gRPC)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import httpx

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.bundle.loader import LoadedBundle
from tests.conftest import CHEAP, STRONG, make_settings, start_server_process, stop_server_process
from tests.redis_support import running_redis


def trailers(err: grpc.RpcError) -> dict[str, str]:
    md = err.trailing_metadata() or ()  # type: ignore[attr-defined]
    return {k: v for k, v in md if isinstance(v, str)}


async def test_grpc_overload_carries_retry_pushback(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    # A batcher that waits 300 ms for company keeps calls in flight long enough to pile up.
    sc = Sidecar(
        make_settings(tmp_path, max_in_flight=2, batch_wait_us=300_000), bundle=tiny_bundle
    )
    await sc.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
            stub = pb_grpc.RouterServiceStub(ch)

            async def one(i: int) -> grpc.aio.AioRpcError | None:
                req = pb.RouteRequest(
                    prompt=f"p{i}", candidates=[pb.Candidate(**CHEAP), pb.Candidate(**STRONG)]
                )
                try:
                    await stub.Route(req, timeout=30, metadata=(("x-request-id", f"rid-{i}"),))
                except grpc.aio.AioRpcError as err:
                    return err
                return None

            results = await asyncio.gather(*(one(i) for i in range(12)))
    finally:
        await sc.stop()
    shed = [e for e in results if e is not None]
    assert shed and len(shed) <= 10, [e.code() for e in shed]
    for err in shed:
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
        md = trailers(err)
        assert md["grpc-retry-pushback-ms"] == "1000", md
        assert md["x-request-id"].startswith("rid-"), md


def test_feedback_during_a_redis_outage_says_when_to_retry(
    tiny_bundle_path: Path, tmp_path: Path
) -> None:
    with running_redis(tmp_path / "redis") as redis:
        sp = start_server_process(
            "--bundle",
            str(tiny_bundle_path),
            "--home",
            str(tmp_path / "home"),
            env={"ROUTEIQ_REDIS_URL": redis.url, "ROUTEIQ_REDIS_TIMEOUT_MS": "1000"},
        )
        try:
            body = {"prompt": "Explain recursion", "candidates": [CHEAP, STRONG]}
            decisions = [
                httpx.post(f"{sp.http}/v1/route", json=body, timeout=30).json()["decision_id"]
                for _ in range(2)
            ]
            redis.kill()
            r = httpx.post(
                f"{sp.http}/v1/feedback",
                json={"decision_id": decisions[0], "score": 1.0},
                timeout=30,
            )
            with grpc.insecure_channel(sp.grpc) as ch:
                try:
                    pb_grpc.RouterServiceStub(ch).Feedback(
                        pb.FeedbackRequest(decision_id=decisions[1], score=1.0), timeout=30
                    )
                    grpc_err = None
                except grpc.RpcError as err:
                    grpc_err = err
        finally:
            stop_server_process(sp)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "unavailable" and r.headers["x-request-id"]
    assert int(r.headers["retry-after"]) >= 1, r.headers
    assert grpc_err is not None
    assert grpc_err.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    md = trailers(grpc_err)
    assert int(md["grpc-retry-pushback-ms"]) >= 1000 and md["x-request-id"], md
