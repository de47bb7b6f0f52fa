"""The LiteLLM stub inside a real ``litellm.Router`` (mock_response deployments, no network)
against a real sidecar process: the sidecar's choice serves the call, sync and async, over
HTTP and gRPC; a dead, slow or wrong sidecar never fails a call; the breaker opens and recovers.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import asyncio
import http.server
import json
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():  # pydantic warns about LiteLLM's own TypedDicts at import
    warnings.simplefilter("ignore", UserWarning)
    import litellm
    from litellm import Router
from routeiq_litellm import BreakerState, RouteIQStrategy, install, installed_strategy

from tests.conftest import ServerProcess, start_server_process, stop_server_process

# pydantic warns about LiteLLM's own TypedDicts at import; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning")

TRANSPORTS = ["http", "grpc"]
PROMPTS = [
    "hi there",
    "Prove that there are infinitely many primes, then generalise the argument.",
    "Write a Python function that merges two sorted lists.",
    "What is the capital of France?",
]
DEPLOYMENTS = [("cheap", "openai/gpt-4o-mini"), ("strong", "openai/gpt-4o"),
               ("reasoning", "openai/o3-mini")]


def deployment(
    did: str, model: str, group: str = "auto", reply: str | None = None
) -> dict[str, Any]:
    return {
        "model_name": group,
        "litellm_params": {"model": model, "api_key": "mock-key",
                           "mock_response": reply or f"answered by {did}"},
        "model_info": {"id": did},
    }


def make_router(extra: list[dict[str, Any]] | None = None, **kw: Any) -> Router:
    model_list = [deployment(d, m) for d, m in DEPLOYMENTS] + (extra or [])
    return Router(model_list=model_list, num_retries=0, **kw)


def url_of(sp: ServerProcess, transport: str) -> str:
    return sp.http if transport == "http" else sp.grpc


def served(resp: Any) -> str:
    return str(resp._hidden_params["model_id"])


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def wait_until(cond: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def feedback_accepted(sp: ServerProcess) -> float:
    for line in httpx.get(f"{sp.http}/metrics").text.splitlines():
        if line.startswith('routeiq_feedback_total{result="accepted"}'):
            return float(line.split()[-1])
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sidecar(tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ServerProcess]:
    sp = start_server_process("--bundle", str(tiny_bundle_path),
                              "--home", str(tmp_path_factory.mktemp("home")))
    yield sp
    stop_server_process(sp)


@pytest.fixture(autouse=True)
def _restore_callbacks() -> Iterator[None]:
    before = list(litellm.callbacks)
    yield
    litellm.callbacks[:] = before


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_async_calls_are_served_by_the_sidecars_choice(
    sidecar: ServerProcess, transport: str
) -> None:
    router = make_router()
    strategy = install(router, url=url_of(sidecar, transport), transport=transport,
                       timeout_ms=10_000, feedback=False)
    calls = 0
    for prompt in PROMPTS:
        for override in ({}, {"routeiq_strategy": "cheapest"}, {"routeiq_strategy": "strongest"}):
            resp = await router.acompletion(model="auto", messages=msgs(prompt),
                                            metadata=dict(override), user="user-1")
            calls += 1
            decision = strategy.last_decision
            assert decision is not None
            assert served(resp) == decision.selected_id
            assert resp.choices[0].message.content == f"answered by {decision.selected_id}"
            if override:
                assert decision.strategy == override["routeiq_strategy"]
            if override == {"routeiq_strategy": "cheapest"}:
                assert served(resp) == "cheap"  # lowest price in LiteLLM's own cost map
    stats = strategy.stats.snapshot()
    assert stats["routed"] == calls and stats["fallback"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sync_calls_are_served_by_the_sidecars_choice(
    sidecar: ServerProcess, transport: str
) -> None:
    router = make_router()
    strategy = install(router, url=url_of(sidecar, transport), transport=transport,
                       timeout_ms=10_000, feedback=False)
    for prompt in PROMPTS:
        resp = router.completion(model="auto", messages=msgs(prompt),
                                 metadata={"routeiq_strategy": "cheapest"})
        assert served(resp) == "cheap" == strategy.last_decision.selected_id  # type: ignore[union-attr]
        resp = router.completion(model="auto", messages=msgs(prompt))
        assert strategy.last_decision is not None
        assert served(resp) == strategy.last_decision.selected_id
    assert strategy.stats.snapshot()["routed"] == 2 * len(PROMPTS)


def test_a_deployment_litellm_cooled_down_is_not_offered(sidecar: ServerProcess) -> None:
    """Candidates are what LiteLLM still considers usable (cooldowns, health)."""
    top = deployment("top", "openai/gpt-4.1", reply="litellm.InternalServerError")
    top["model_info"]["routeiq"] = {"quality_prior": 0.99}  # the strongest while usable
    router = make_router([top], allowed_fails=0, cooldown_time=600)
    strategy = install(router, url=sidecar.http, timeout_ms=10_000, feedback=False)
    asked = {"routeiq_strategy": "strongest"}
    with pytest.raises(litellm.InternalServerError):  # the mock deployment fails, not the stub
        router.completion(model="auto", messages=msgs("hard question"), metadata=dict(asked))
    assert strategy.last_decision is not None and strategy.last_decision.selected_id == "top"
    resp = router.completion(model="auto", messages=msgs("hard question"), metadata=dict(asked))
    assert served(resp) != "top"
    assert served(resp) == strategy.last_decision.selected_id
    assert strategy.stats.snapshot()["fallback"] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_sidecar_down_every_call_still_succeeds(
    tiny_bundle_path: Path, tmp_path: Path, transport: str
) -> None:
    sp = start_server_process("--bundle", str(tiny_bundle_path), "--home", str(tmp_path))
    router = make_router()
    strategy = install(router, url=url_of(sp, transport), transport=transport,
                       timeout_ms=10_000, breaker_failures=3, breaker_reset_s=3600)
    resp = await router.acompletion(model="auto", messages=msgs("hello"))
    assert served(resp) == strategy.last_decision.selected_id  # type: ignore[union-attr]
    stop_server_process(sp)

    ids = set()
    for i in range(6):
        resp = await router.acompletion(model="auto", messages=msgs(f"question {i}"))
        ids.add(served(resp))
    for i in range(3):
        resp = router.completion(model="auto", messages=msgs(f"sync question {i}"))
        ids.add(served(resp))
    assert ids <= {d for d, _ in DEPLOYMENTS}
    stats = strategy.stats.snapshot()
    assert stats["routed"] == 1
    assert stats["fallback"] == 9
    assert stats["unreachable"] + stats["timeout"] == 3  # then the breaker opened
    assert stats["breaker_open"] == 6
    assert strategy.breaker.state is BreakerState.OPEN


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_breaker_opens_then_recovers_when_the_sidecar_returns(
    tiny_bundle_path: Path, tmp_path: Path, transport: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}" if transport == "http" else f"127.0.0.1:{port}"
    router = make_router()
    flag = "--http-port" if transport == "http" else "--grpc-port"
    strategy = install(router, url=url, transport=transport, timeout_ms=10_000,
                       breaker_failures=2, breaker_reset_s=0.5, feedback=False)
    for i in range(3):  # nobody listens yet
        await router.acompletion(model="auto", messages=msgs(f"early {i}"))
    assert strategy.breaker.state is not BreakerState.CLOSED
    assert strategy.stats.snapshot()["breaker_open"] == 1

    sp = start_server_process("--bundle", str(tiny_bundle_path), "--home", str(tmp_path),
                              flag, str(port))
    try:
        routed = 0
        deadline = time.monotonic() + 30
        while routed == 0 and time.monotonic() < deadline:  # half-open probes until one works
            await asyncio.sleep(0.6)
            resp = await router.acompletion(model="auto", messages=msgs("back?"))
            routed = strategy.stats.snapshot()["routed"]
        assert routed == 1
        assert served(resp) == strategy.last_decision.selected_id  # type: ignore[union-attr]
        assert strategy.breaker.state is BreakerState.CLOSED
        resp = router.completion(model="auto", messages=msgs("and sync"))
        assert strategy.stats.snapshot()["routed"] == 2
    finally:
        stop_server_process(sp)


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """A 'sidecar' that answers wrongly: no real sidecar can be made to do this on purpose."""

    mode = "error"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if Misbehaving.mode == "slow":
            time.sleep(1.0)
        status, body = {
            "error": (500, b'{"error": {"code": "internal"}}'),
            "unknown_id": (200, json.dumps({"decision_id": "d", "selected_id": "nope"}).encode()),
            "not_json": (200, b"<html>"),
            "slow": (200, b"{}"),
            "rejected": (400, b'{"error": {"code": "invalid_argument"}}'),
        }[Misbehaving.mode]
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def misbehaving() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("error", "server_error"), ("unknown_id", "bad_answer"), ("not_json", "bad_answer"),
     ("slow", "timeout"), ("rejected", "rejected")],
)
async def test_wrong_or_slow_answers_fall_back(misbehaving: str, mode: str, outcome: str) -> None:
    Misbehaving.mode = mode
    router = make_router()
    strategy = install(router, url=misbehaving, timeout_ms=200, breaker_failures=100,
                       feedback=False)
    resp = await router.acompletion(model="auto", messages=msgs("hello"))
    assert served(resp) in {d for d, _ in DEPLOYMENTS}
    resp = router.completion(model="auto", messages=msgs("hello"))
    assert served(resp) in {d for d, _ in DEPLOYMENTS}
    stats = strategy.stats.snapshot()
    assert stats[outcome] == 2 and stats["fallback"] == 2 and stats["routed"] == 0
    assert strategy.last_decision is None


async def test_single_deployment_and_pinned_calls_skip_the_sidecar(sidecar: ServerProcess) -> None:
    router = make_router([deployment("solo", "openai/gpt-4o-mini", group="solo")])
    strategy = install(router, url=sidecar.http, timeout_ms=10_000, feedback=False)
    assert served(await router.acompletion(model="solo", messages=msgs("hi"))) == "solo"
    assert served(await router.acompletion(model="strong", messages=msgs("hi"))) == "strong"
    assert strategy.stats.snapshot()["skipped"] == 2
    assert strategy.last_decision is None


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_feedback_reaches_the_sidecar(sidecar: ServerProcess, transport: str) -> None:
    flaky = [deployment("flaky", "openai/gpt-4o", group="flaky",
                        reply="litellm.InternalServerError")]
    router = make_router(flaky)
    strategy = install(router, url=url_of(sidecar, transport), transport=transport,
                       timeout_ms=10_000, skip_single=False)
    logger = strategy.feedback_logger
    assert logger in litellm.callbacks
    before = feedback_accepted(sidecar)

    for prompt in PROMPTS:
        await router.acompletion(model="auto", messages=msgs(prompt))
    router.completion(model="auto", messages=msgs("sync one"))
    with pytest.raises(litellm.InternalServerError):
        await router.acompletion(model="flaky", messages=msgs("this deployment fails"))
    expected = len(PROMPTS) + 2
    assert strategy.stats.snapshot()["routed"] == expected

    assert wait_until(lambda: logger.sender.counts["sent"] >= expected), logger.sender.counts
    assert wait_until(lambda: feedback_accepted(sidecar) - before >= expected)
    assert logger.sender.counts["failed"] == 0 and logger.sender.counts["dropped"] == 0
    again = httpx.post(f"{sidecar.http}/v1/feedback",
                       json={"decision_id": strategy.last_decision.decision_id,  # type: ignore[union-attr]
                             "success": True})
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_install_twice_replaces_the_strategy_and_its_logger(sidecar: ServerProcess) -> None:
    router = make_router()
    first = install(router, url=sidecar.http)
    second = install(router, url=sidecar.http)
    assert first.feedback_logger not in litellm.callbacks
    assert second.feedback_logger in litellm.callbacks
    router.completion(model="auto", messages=msgs("hi"))
    assert second.stats.snapshot()["routed"] == 1 and first.stats.snapshot()["routed"] == 0
    assert isinstance(second, RouteIQStrategy)


def test_proxy_hook_reinstalls_when_litellm_resets_the_strategy(sidecar: ServerProcess) -> None:
    """The proxy may re-initialise its router's routing (settings updates): the hook notices."""
    from routeiq_litellm.proxy import RouteIQProxyHook

    router = make_router()
    hook = RouteIQProxyHook(url=sidecar.http, timeout_ms=10_000)
    first = hook.ensure_installed(router)
    assert first is not None and installed_strategy(router) is first
    assert hook.ensure_installed(router) is first
    router.completion(model="auto", messages=msgs("one"))
    router.routing_strategy_init(routing_strategy="simple-shuffle", routing_strategy_args={})
    assert installed_strategy(router) is None  # LiteLLM dropped the custom strategy
    second = hook.ensure_installed(router)
    assert second is not None and second is not first
    assert second.stats is first.stats and second.breaker is first.breaker
    router.completion(model="auto", messages=msgs("two"))
    assert second.stats.snapshot()["routed"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_api_key_reaches_a_sidecar_that_requires_one(
    tiny_bundle_path: Path, tmp_path: Path, transport: str
) -> None:
    sp = start_server_process("--bundle", str(tiny_bundle_path), "--home", str(tmp_path),
                              env={"ROUTEIQ_AUTH_TOKEN": "s3cret"})
    try:
        router = make_router()
        keyed = install(router, url=url_of(sp, transport), transport=transport,
                        timeout_ms=10_000, api_key="s3cret", feedback=False)
        resp = await router.acompletion(model="auto", messages=msgs("hello"))
        assert served(resp) == keyed.last_decision.selected_id  # type: ignore[union-attr]
        assert keyed.stats.snapshot()["routed"] == 1

        keyless = install(router, url=url_of(sp, transport), transport=transport,
                          timeout_ms=10_000, feedback=False)
        resp = await router.acompletion(model="auto", messages=msgs("hello"))
        assert served(resp) in {d for d, _ in DEPLOYMENTS}  # LiteLLM's pick: still served
        assert keyless.stats.snapshot()["rejected"] == 1
        assert keyless.breaker.state is BreakerState.CLOSED  # a 401 is no sign of a dead sidecar
    finally:
        stop_server_process(sp)
