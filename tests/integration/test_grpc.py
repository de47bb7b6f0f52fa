"""gRPC transport over a real channel to an in-process server on port 0."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.app import Sidecar
from tests.conftest import CHEAP, STRONG


def cand(d: dict) -> pb.Candidate:  # type: ignore[type-arg]
    return pb.Candidate(**d)


@pytest.fixture
async def stub(sidecar: Sidecar):  # type: ignore[no-untyped-def]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as ch:
        yield pb_grpc.RouterServiceStub(ch), ch


async def test_route_classify_feedback_info(stub) -> None:  # type: ignore[no-untyped-def]
    s, _ = stub
    call = s.Route(
        pb.RouteRequest(request_id="g-1", prompt="hello", candidates=[cand(CHEAP), cand(STRONG)]),
        metadata=(("x-request-id", "g-1"),),
    )
    resp = await call
    assert resp.selected_id in {"cheap", "strong"} and len(resp.ranking) == 2
    assert resp.request_id == "g-1" and resp.timings.total_us > 0
    assert ("x-request-id", "g-1") in tuple(await call.trailing_metadata())
    c = await s.Classify(pb.ClassifyRequest(messages=[pb.Message(role="user", content="2+2?")]))
    assert c.signals.complexity in {"simple", "medium", "complex"}
    fb = await s.Feedback(pb.FeedbackRequest(decision_id=resp.decision_id, success=True))
    assert fb.accepted and not fb.duplicate
    fb2 = await s.Feedback(pb.FeedbackRequest(decision_id=resp.decision_id, success=True))
    assert fb2.duplicate
    info = await s.GetInfo(pb.GetInfoRequest())
    assert "centroid" in info.strategies and info.bundle_version


@pytest.mark.parametrize(
    ("req", "code", "field"),
    [
        (pb.RouteRequest(candidates=[cand(CHEAP)]), grpc.StatusCode.INVALID_ARGUMENT, "messages"),
        (
            pb.RouteRequest(prompt="x", candidates=[cand(CHEAP), cand(CHEAP)]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "candidates[1].id",
        ),
        (
            pb.RouteRequest(prompt="x", profile="turbo", candidates=[cand(CHEAP)]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "profile",
        ),
        (
            pb.RouteRequest(prompt="x", model_group="nope"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "model_group",
        ),
        (
            pb.RouteRequest(
                prompt="x", candidates=[pb.Candidate(id="a", input_cost_per_mtok=float("nan"))]
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "candidates[0].input_cost_per_mtok",
        ),
        (
            pb.RouteRequest(prompt="x", candidates=[cand(CHEAP)], required_capabilities=["vision"]),
            grpc.StatusCode.FAILED_PRECONDITION,
            "candidates",
        ),
    ],
)
async def test_bad_input_status(stub, req, code, field) -> None:  # type: ignore[no-untyped-def]
    s, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.Route(req)
    assert exc.value.code() == code
    assert (exc.value.details() or "").startswith(field)
    ok = await s.Route(pb.RouteRequest(prompt="x", candidates=[cand(CHEAP)]))
    assert ok.selected_id == "cheap"


async def test_feedback_unknown_is_not_found(stub) -> None:  # type: ignore[no-untyped-def]
    s, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.Feedback(pb.FeedbackRequest(decision_id="missing", score=0.5))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_and_reflection(stub, sidecar: Sidecar) -> None:  # type: ignore[no-untyped-def]
    _, ch = stub
    h = health_pb2_grpc.HealthStub(ch)
    for service in ("", "routeiq.v1.RouterService"):
        r = await h.Check(health_pb2.HealthCheckRequest(service=service))
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(ch)

    async def one():  # type: ignore[no-untyped-def]
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = []
    async for resp in refl.ServerReflectionInfo(one()):
        names += [s.name for s in resp.list_services_response.service]
    assert "routeiq.v1.RouterService" in names and "grpc.health.v1.Health" in names
    await sidecar.begin_drain()
    r = await h.Check(health_pb2.HealthCheckRequest(service=""))
    assert r.status == health_pb2.HealthCheckResponse.NOT_SERVING
    s, _ = stub
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await s.Route(pb.RouteRequest(prompt="x", candidates=[cand(CHEAP)]))
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_deadlines_give_degraded_answers_not_errors(tmp_path, tiny_bundle) -> None:  # type: ignore[no-untyped-def]
    """A batcher that waits 1.5 s for company misses any short deadline: the fallback answers."""
    import httpx

    from tests.conftest import make_settings

    sc = Sidecar(make_settings(tmp_path, batch_wait_us=1_500_000), bundle=tiny_bundle)
    await sc.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
            s = pb_grpc.RouterServiceStub(ch)
            resp = await s.Route(
                pb.RouteRequest(prompt="a quick one", candidates=[cand(CHEAP), cand(STRONG)]),
                timeout=1.0,
            )
        async with httpx.AsyncClient() as c:
            r = await c.post(
                f"http://127.0.0.1:{sc.http_port}/v1/route",
                json={"prompt": "x", "deadline_ms": 20, "candidates": [CHEAP, STRONG]},
            )
        metrics = (await httpx.AsyncClient().get(f"http://127.0.0.1:{sc.http_port}/metrics")).text
    finally:
        await sc.stop()
    assert resp.degraded and resp.strategy == "length" and resp.reason.startswith("degraded")
    body = r.json()
    assert (
        r.status_code == 200 and body["degraded"] is True and "deadline of 20 ms" in body["reason"]
    )
    assert 'routeiq_degraded_total{cause="deadline"} 2.0' in metrics
