"""The proxy's ``RouteIQPlugin`` in a real ``litellm.Router(plugins=[...])`` (the proxy builds
its router the same way from ``router_settings.plugins``) against a real sidecar: it narrows
the candidates to the ranked top choices, signals the decision, leaves unmanaged groups alone
and fails open when the sidecar is down, slow or answers garbage.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.litellm_support import (
    DEPLOYMENTS,
    MISBEHAVIOURS,
    Misbehaving,
    Sidecar,
    deployment,
    misbehaving,
    msgs,
    sidecar,
    start_sidecar,
    stub_bundle,
)

with warnings.catch_warnings():  # pydantic warns about LiteLLM's own TypedDicts at import
    warnings.simplefilter("ignore", UserWarning)
    import litellm
    from litellm import Router
    from litellm.types.router import RoutingContext, RoutingPlugin
from routeiq_litellm import RouteIQPlugin

__all__ = ["misbehaving", "sidecar", "stub_bundle"]  # fixtures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore:Item.*ReadOnly:UserWarning")

MODEL_OF = dict(DEPLOYMENTS)
IDS = set(MODEL_OF)
OTHER = [deployment("o1", "openai/gpt-4.1-mini", group="other"),
         deployment("o2", "openai/gpt-4.1", group="other")]


def make_router(plugin: RouteIQPlugin, extra: list[dict[str, Any]] | None = None,
                **kw: Any) -> Router:
    model_list = [deployment(d, m) for d, m in DEPLOYMENTS] + (extra or [])
    router = Router(model_list=model_list, num_retries=0, plugins=[plugin], **kw)
    plugin.router = router
    return router


def served(resp: Any) -> str:
    return str(resp._hidden_params["model_id"])


def signals_of(meta: dict[str, Any]) -> dict[str, Any]:
    return dict((meta.get("routing_plugin_signals") or {}).get("routeiq") or {})


def test_the_plugin_meets_litellms_routing_plugin_contract() -> None:
    plugin = RouteIQPlugin(url="http://127.0.0.1:9")
    assert isinstance(plugin, RoutingPlugin)
    assert isinstance(plugin, litellm.integrations.custom_logger.CustomLogger)


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_calls_are_served_among_the_sidecars_top_choices(
    sidecar: Sidecar, transport: str
) -> None:
    plugin = RouteIQPlugin(url=sidecar.url(transport), transport=transport, timeout_ms=10_000)
    router = make_router(plugin)
    for prompt in ["hi", "Prove that the square root of 2 is irrational.", "Write a haiku."]:
        meta: dict[str, Any] = {}
        resp = await router.acompletion(model="auto", messages=msgs(prompt), metadata=meta)
        routeiq = signals_of(meta)
        decision = plugin.last_decision
        assert decision is not None and routeiq["decision_id"] == decision.decision_id
        assert routeiq["top"][0] == routeiq["selected_model"] == decision.selected_id
        assert len(routeiq["top"]) == 2  # narrowed to the top two, LiteLLM picks among them
        assert set(routeiq["ranking"]) == set(MODEL_OF.values())
        assert routeiq["reason"]
        assert MODEL_OF[served(resp)] in routeiq["top"]
    assert plugin.stats.snapshot()["routed"] == 3


async def test_top_k_one_serves_exactly_the_sidecars_choice(sidecar: Sidecar) -> None:
    plugin = RouteIQPlugin(url=sidecar.http, timeout_ms=10_000, top_k=1)
    router = make_router(plugin)
    resp = await router.acompletion(model="auto", messages=msgs("hi"),
                                    metadata={"routeiq_strategy": "cheapest"})
    assert served(resp) == "cheap"
    resp = await router.acompletion(model="auto", messages=msgs("hi"),
                                    metadata={"routeiq_strategy": "strongest"})
    assert plugin.last_decision is not None
    assert MODEL_OF[served(resp)] == plugin.last_decision.selected_id


async def test_unmanaged_groups_pass_untouched(sidecar: Sidecar) -> None:
    plugin = RouteIQPlugin(url=sidecar.http, timeout_ms=10_000, model_groups="auto")
    router = make_router(plugin, OTHER)
    served_ids = set()
    for _ in range(8):
        meta: dict[str, Any] = {}
        resp = await router.acompletion(model="other", messages=msgs("hi"), metadata=meta)
        served_ids.add(served(resp))
        assert signals_of(meta) == {}
        assert "_routing_plugin_candidate_models" not in meta
    assert served_ids <= {"o1", "o2"}
    assert plugin.stats.snapshot()["skipped"] == 8 and plugin.last_decision is None


async def test_a_deployment_in_cooldown_is_never_a_top_choice(sidecar: Sidecar) -> None:
    """The plugin ranks what LiteLLM can use now: narrowing never leaves only cooled-down
    deployments (LiteLLM would then refuse the call)."""
    top = deployment("top", "openai/gpt-4.1", reply="litellm.InternalServerError")
    top["model_info"]["routeiq"] = {"quality_prior": 0.99}
    plugin = RouteIQPlugin(url=sidecar.http, timeout_ms=10_000, top_k=1)
    router = make_router(plugin, [top], allowed_fails=0, cooldown_time=600)
    asked = {"routeiq_strategy": "strongest"}
    with pytest.raises(litellm.InternalServerError):
        await router.acompletion(model="auto", messages=msgs("hard"), metadata=dict(asked))
    assert plugin.last_decision is not None
    assert plugin.last_decision.selected_id == "openai/gpt-4.1"
    resp = await router.acompletion(model="auto", messages=msgs("hard"), metadata=dict(asked))
    assert served(resp) != "top"
    assert plugin.last_decision.selected_id != "openai/gpt-4.1"


async def test_sidecar_down_every_call_still_succeeds(stub_bundle: Path, tmp_path: Path) -> None:
    sc = start_sidecar(stub_bundle, tmp_path)
    plugin = RouteIQPlugin(url=sc.http, timeout_ms=10_000, breaker_failures=2,
                           breaker_reset_s=3600)
    router = make_router(plugin)
    await router.acompletion(model="auto", messages=msgs("hello"))
    sc.stop()
    for i in range(5):
        meta: dict[str, Any] = {}
        resp = await router.acompletion(model="auto", messages=msgs(f"q{i}"), metadata=meta)
        assert served(resp) in IDS and signals_of(meta) == {}
    stats = plugin.stats.snapshot()
    assert stats["routed"] == 1 and stats["fallback"] == 5
    assert stats["unreachable"] == 2 and stats["breaker_open"] == 3


@pytest.mark.parametrize(("mode", "outcome"), MISBEHAVIOURS)
async def test_slow_or_garbage_answers_fail_open(misbehaving: str, mode: str,
                                                 outcome: str) -> None:
    Misbehaving.mode = mode
    plugin = RouteIQPlugin(url=misbehaving, timeout_ms=200, connect_timeout_ms=0,
                           breaker_failures=100)
    router = make_router(plugin)
    served_ids = set()
    for _ in range(2):
        meta: dict[str, Any] = {}
        resp = await router.acompletion(model="auto", messages=msgs("hello"), metadata=meta)
        served_ids.add(served(resp))
        assert signals_of(meta) == {}
    assert served_ids <= IDS
    stats = plugin.stats.snapshot()
    assert stats[outcome] == 2 and stats["fallback"] == 2 and stats["routed"] == 0


async def test_run_on_a_bare_context_without_a_router_ranks_the_candidate_models(
    sidecar: Sidecar,
) -> None:
    """Outside the proxy and without a router, the plugin ranks the model strings alone."""
    plugin = RouteIQPlugin(url=sidecar.http, timeout_ms=10_000, top_k=1,
                           strategy="cheapest")
    context = RoutingContext(raw_messages=msgs("hi"), structured_messages=msgs("hi"),
                             candidate_models=["openai/gpt-4o", "openai/gpt-4o-mini"],
                             metadata={"model_group": "auto"})
    out = await plugin.run(context)
    assert out.candidate_models == ["openai/gpt-4o-mini"]
    assert out.signals["routeiq"]["decision_id"]
