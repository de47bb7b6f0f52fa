"""The SDK strategy (``install``) inside a real ``litellm.Router`` (mock_response deployments,
no network) against a real sidecar process: the sidecar's choice serves the call, sync and
async, over HTTP and gRPC; a dead, slow or wrong sidecar never fails a call; the breaker opens
and recovers. Runs on every LiteLLM lane (scripts/test.sh): whichever entry point the
installed LiteLLM has (``register_plugin`` or ``set_custom_routing_strategy``) is used.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.litellm_support import (
    DEPLOYMENTS,
    MISBEHAVIOURS,
    Misbehaving,
    Sidecar,
    deployment,
    feedback_accepted,
    free_port,
    misbehaving,
    msgs,
    sidecar,
    start_sidecar,
    stub_bundle,
    wait_until,
)

with warnings.catch_warnings():  # pydantic warns about LiteLLM's own TypedDicts at import
    warnings.simplefilter("ignore", UserWarning)
    import litellm
    from litellm import Router
from routeiq_litellm import BreakerState, RouteIQStrategy, install, installed_strategy
from routeiq_litellm.fallbacks import prometheus_counters

__all__ = ["misbehaving", "sidecar", "stub_bundle"]  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore:Item.*ReadOnly:UserWarning")

TRANSPORTS = ["http", "grpc"]
PROMPTS = [
    "hi there",
    "Prove that there are infinitely many primes, then generalise the argument.",
    "Write a Python function that merges two sorted lists.",
    "What is the capital of France?",
]
IDS = {d for d, _ in DEPLOYMENTS}


def make_router(extra: list[dict[str, Any]] | None = None, **kw: Any) -> Router:
    model_list = [deployment(d, m) for d, m in DEPLOYMENTS] + (extra or [])
    return Router(model_list=model_list, num_retries=0, **kw)


def served(resp: Any) -> str:
    return str(resp._hidden_params["model_id"])


@pytest.fixture(autouse=True)
def _restore_callbacks() -> Any:
    before = list(litellm.callbacks)
    yield
    litellm.callbacks[:] = before


def test_install_uses_the_entry_point_this_litellm_has(sidecar: Sidecar) -> None:
    router = make_router()
    strategy = install(router, url=sidecar.http, feedback=False)
    expected = "register_plugin" if hasattr(router, "register_plugin") else (
        "set_custom_routing_strategy")
    assert strategy.entry_point == expected
    assert installed_strategy(router) is strategy


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_async_calls_are_served_by_the_sidecars_choice(
    sidecar: Sidecar, transport: str
) -> None:
    router = make_router()
    strategy = install(router, url=sidecar.url(transport), transport=transport,
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
def test_sync_calls_are_served_by_the_sidecars_choice(sidecar: Sidecar, transport: str) -> None:
    router = make_router()
    strategy = install(router, url=sidecar.url(transport), transport=transport,
                       timeout_ms=10_000, feedback=False)
    for prompt in PROMPTS:
        resp = router.completion(model="auto", messages=msgs(prompt),
                                 metadata={"routeiq_strategy": "cheapest"})
        assert served(resp) == "cheap" == strategy.last_decision.selected_id  # type: ignore[union-attr]
        resp = router.completion(model="auto", messages=msgs(prompt))
        assert strategy.last_decision is not None
        assert served(resp) == strategy.last_decision.selected_id
    assert strategy.stats.snapshot()["routed"] == 2 * len(PROMPTS)


async def test_a_sync_call_from_inside_an_event_loop_is_routed(sidecar: Sidecar) -> None:
    """LiteLLM lists usable deployments only asynchronously; a sync call made while this
    thread runs a loop lists them on a worker thread's loop."""
    router = make_router()
    strategy = install(router, url=sidecar.http, timeout_ms=10_000, feedback=False)
    resp = router.completion(model="auto", messages=msgs("hi"),
                             metadata={"routeiq_strategy": "strongest"})
    assert served(resp) == strategy.last_decision.selected_id  # type: ignore[union-attr]
    assert strategy.stats.snapshot()["routed"] == 1


def test_a_deployment_litellm_cooled_down_is_not_offered(sidecar: Sidecar) -> None:
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
    stub_bundle: Path, tmp_path: Path, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    sc = start_sidecar(stub_bundle, tmp_path)
    router = make_router()
    strategy = install(router, url=sc.url(transport), transport=transport,
                       timeout_ms=10_000, breaker_failures=3, breaker_reset_s=3600)
    resp = await router.acompletion(model="auto", messages=msgs("hello"))
    assert served(resp) == strategy.last_decision.selected_id  # type: ignore[union-attr]
    sc.stop()

    ids = set()
    with caplog.at_level(logging.WARNING, logger="routeiq_litellm"):
        for i in range(6):
            resp = await router.acompletion(model="auto", messages=msgs(f"question {i}"))
            ids.add(served(resp))
        for i in range(3):
            resp = router.completion(model="auto", messages=msgs(f"sync question {i}"))
            ids.add(served(resp))
    assert ids <= IDS
    stats = strategy.stats.snapshot()
    assert stats["routed"] == 1
    assert stats["fallback"] == 9
    assert stats["unreachable"] + stats["timeout"] == 3  # then the breaker opened
    assert stats["breaker_open"] == 6
    assert strategy.breaker.state is BreakerState.OPEN
    # rate-limited: one WARNING for the nine fallbacks (the first), with its counts
    warned = [r.getMessage() for r in caplog.records if "fallback" in r.getMessage()]
    assert len(warned) == 1 and "LiteLLM's own routing" in warned[0]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_breaker_opens_then_recovers_when_the_sidecar_returns(
    stub_bundle: Path, tmp_path: Path, transport: str
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

    sc = start_sidecar(stub_bundle, tmp_path, flag, str(port))
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
        # the sync connection reconnects on its own schedule (gRPC: backoff up to 2 s)
        def sync_routed() -> bool:
            router.completion(model="auto", messages=msgs("and sync"))
            return strategy.stats.snapshot()["routed"] == 2

        assert wait_until(sync_routed, timeout_s=30, every_s=0.3)
    finally:
        sc.stop()


@pytest.mark.parametrize(("mode", "outcome"), MISBEHAVIOURS)
async def test_wrong_or_slow_answers_fall_back(misbehaving: str, mode: str, outcome: str) -> None:
    Misbehaving.mode = mode
    router = make_router()
    strategy = install(router, url=misbehaving, timeout_ms=200, breaker_failures=100,
                       connect_timeout_ms=0, feedback=False)
    resp = await router.acompletion(model="auto", messages=msgs("hello"))
    assert served(resp) in IDS
    resp = router.completion(model="auto", messages=msgs("hello"))
    assert served(resp) in IDS
    stats = strategy.stats.snapshot()
    assert stats[outcome] == 2 and stats["fallback"] == 2 and stats["routed"] == 0
    assert strategy.last_decision is None


async def test_fallbacks_reach_the_prometheus_registry(misbehaving: str) -> None:
    counters = prometheus_counters()
    if not counters:
        pytest.skip("prometheus_client is not installed in this venv")
    from prometheus_client import REGISTRY

    def value() -> float:
        found = REGISTRY.get_sample_value("routeiq_litellm_fallbacks_total",
                                          {"reason": "server_error"})
        return found or 0.0

    Misbehaving.mode = "error"
    before = value()
    strategy = install(make_router(), url=misbehaving, timeout_ms=200, connect_timeout_ms=0,
                       feedback=False)
    await strategy.router.acompletion(model="auto", messages=msgs("hello"))
    assert value() == before + 1


async def test_single_deployment_and_pinned_calls_skip_the_sidecar(sidecar: Sidecar) -> None:
    router = make_router([deployment("solo", "openai/gpt-4o-mini", group="solo")])
    strategy = install(router, url=sidecar.http, timeout_ms=10_000, feedback=False)
    assert served(await router.acompletion(model="solo", messages=msgs("hi"))) == "solo"
    assert served(await router.acompletion(model="strong", messages=msgs("hi"))) == "strong"
    assert strategy.stats.snapshot()["skipped"] == 2
    assert strategy.last_decision is None


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_feedback_reaches_the_sidecar(sidecar: Sidecar, transport: str) -> None:
    flaky = [deployment("flaky-1", "openai/gpt-4o", group="flaky",
                        reply="litellm.InternalServerError")]
    router = make_router(flaky)
    strategy = install(router, url=sidecar.url(transport), transport=transport,
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


def test_install_twice_replaces_the_strategy_and_its_logger(sidecar: Sidecar) -> None:
    router = make_router()
    first = install(router, url=sidecar.http)
    second = install(router, url=sidecar.http)
    assert first.feedback_logger not in litellm.callbacks
    assert second.feedback_logger in litellm.callbacks
    router.completion(model="auto", messages=msgs("hi"))
    assert second.stats.snapshot()["routed"] == 1 and first.stats.snapshot()["routed"] == 0
    assert isinstance(second, RouteIQStrategy) and installed_strategy(router) is second


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_api_key_reaches_a_sidecar_that_requires_one(
    stub_bundle: Path, tmp_path: Path, transport: str
) -> None:
    sc = start_sidecar(stub_bundle, tmp_path, env={"ROUTEIQ_AUTH_TOKEN": "s3cret"})
    try:
        router = make_router()
        keyed = install(router, url=sc.url(transport), transport=transport,
                        timeout_ms=10_000, api_key="s3cret", feedback=False)
        resp = await router.acompletion(model="auto", messages=msgs("hello"))
        assert served(resp) == keyed.last_decision.selected_id  # type: ignore[union-attr]
        assert keyed.stats.snapshot()["routed"] == 1

        keyless = install(router, url=sc.url(transport), transport=transport,
                          timeout_ms=10_000, feedback=False)
        resp = await router.acompletion(model="auto", messages=msgs("hello"))
        assert served(resp) in IDS  # LiteLLM's pick: still served
        assert keyless.stats.snapshot()["rejected"] == 1
        assert keyless.breaker.state is BreakerState.CLOSED  # a 401 is no sign of a dead sidecar
    finally:
        sc.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_first_call_after_install_does_not_fall_back(
    sidecar: Sidecar, transport: str
) -> None:
    """install() opens the connection; a fresh connection gets the connect budget on top of
    timeout_ms, so a cold start is not counted as a slow sidecar."""
    router = make_router()
    strategy = install(router, url=sidecar.url(transport), transport=transport, feedback=False)
    await router.acompletion(model="auto", messages=msgs("first call"))
    router.completion(model="auto", messages=msgs("first sync call"))
    assert strategy.stats.snapshot()["fallback"] == 0
