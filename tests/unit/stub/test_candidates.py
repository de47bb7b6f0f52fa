"""Candidates from LiteLLM deployments: ids, prices per million tokens, context, capabilities."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from routeiq_litellm.candidates import (
    CachedLookup,
    build_candidate,
    build_candidates,
    litellm_model_info,
)
from routeiq_litellm.request import build_route_request

PRICE_FIELDS = ("input_cost_per_mtok", "output_cost_per_mtok")

COST_MAP: dict[str, dict[str, Any]] = {
    "openai/gpt-4o-mini": {
        "input_cost_per_token": 1.5e-7,
        "output_cost_per_token": 6e-7,
        "max_input_tokens": 128000,
        "supports_function_calling": True,
        "supports_vision": True,
        "supports_response_schema": True,
    },
    "openai/o3-mini": {
        "input_cost_per_token": 1.1e-6,
        "output_cost_per_token": 4.4e-6,
        "max_input_tokens": 200000,
        "supports_function_calling": True,
        "supports_reasoning": True,
    },
}


def lookup(model: str) -> Mapping[str, Any] | None:
    return COST_MAP.get(model)


def dep(did: str | None, model: str, **extra: Any) -> dict[str, Any]:
    info = dict(extra.pop("model_info", {}))
    if did is not None:
        info["id"] = did
    return {"model_name": "auto", "litellm_params": {"model": model, **extra}, "model_info": info}


def test_prices_context_and_capabilities_come_from_the_cost_map() -> None:
    c = build_candidate(dep("cheap", "openai/gpt-4o-mini"), lookup)
    assert c is not None
    assert c["id"] == "cheap" and c["model"] == "openai/gpt-4o-mini"
    assert c["input_cost_per_mtok"] == pytest.approx(0.15)
    assert c["output_cost_per_mtok"] == pytest.approx(0.6)
    assert c["max_input_tokens"] == 128000
    assert c["capabilities"] == ["tools", "vision", "json"]
    assert "quality_prior" not in c


def test_deployment_settings_override_the_cost_map() -> None:
    d = dep(
        "r1",
        "openai/o3-mini",
        input_cost_per_token=2e-6,
        model_info={
            "max_input_tokens": 8000,
            "supports_vision": True,
            "supports_reasoning": False,
            "routeiq": {"quality_prior": 0.9, "labels": {"tier": "gold"}, "capabilities": ["json"]},
        },
    )
    c = build_candidate(d, lookup)
    assert c is not None
    assert c["input_cost_per_mtok"] == pytest.approx(2.0)
    assert c["output_cost_per_mtok"] == pytest.approx(4.4)
    assert c["max_input_tokens"] == 8000
    assert c["capabilities"] == ["tools", "vision", "json"]
    assert c["quality_prior"] == 0.9
    assert c["labels"] == {"tier": "gold"}


def test_base_model_names_the_cost_map_entry() -> None:
    d = dep("az", "azure/my-deployment", model_info={"base_model": "openai/gpt-4o-mini"})
    c = build_candidate(d, lookup)
    assert c is not None and c["model"] == "azure/my-deployment"
    assert c["input_cost_per_mtok"] == pytest.approx(0.15)


def test_unknown_model_is_sent_without_a_price_and_has_no_limit() -> None:
    """No price keys at all: the sidecar's own rule for an unpriced candidate applies (its
    name, else its unknown price; never free, never under max_cost_per_mtok)."""
    c = build_candidate(dep("x", "custom/unknown"), lookup)
    assert c == {
        "id": "x",
        "model": "custom/unknown",
        "max_input_tokens": 0,
        "capabilities": [],
        "labels": {"price": "unknown"},
    }


def test_a_zero_price_in_the_cost_map_is_unknown_not_free() -> None:
    """LiteLLM's bundled map lists some models at $0: they are sent without a price, not at 0
    and not at a price borrowed from the other candidates."""
    zero = {"openai/free-looking": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
                                    "max_input_tokens": 32000}}
    cands, _ = build_candidates(
        [dep("cheap", "openai/gpt-4o-mini"), dep("z", "openai/free-looking"),
         dep("r", "openai/o3-mini")],
        lambda m: COST_MAP.get(m) or zero.get(m),
    )
    by_id = {c["id"]: c for c in cands}
    assert by_id["z"]["labels"] == {"price": "unknown"}
    assert not set(PRICE_FIELDS) & set(by_id["z"])
    assert by_id["z"]["max_input_tokens"] == 32000  # the rest of the entry still counts
    assert by_id["cheap"]["input_cost_per_mtok"] == pytest.approx(0.15)
    assert by_id["r"]["output_cost_per_mtok"] == pytest.approx(4.4)
    assert "labels" not in by_id["cheap"] and "labels" not in by_id["r"]


def test_unknown_prices_stay_unknown_whatever_the_other_candidates_cost() -> None:
    """No fellow price: neither the dearest known price nor a fixed stand-in is filled in."""
    for deps in ([dep("a", "custom/a"), dep("b", "custom/b")],
                 [dep("a", "custom/a"), dep("cheap", "openai/gpt-4o-mini"), dep("b", "custom/b")],
                 [dep("self", "custom/llama", input_cost_per_token=0, output_cost_per_token=0),
                  dep("a", "custom/a")]):
        cands, _ = build_candidates(deps, lookup)
        for c in cands:
            if c["id"] in ("a", "b"):
                assert not set(PRICE_FIELDS) & set(c), c
                assert c["labels"] == {"price": "unknown"}
            else:
                assert set(PRICE_FIELDS) <= set(c) and "labels" not in c


def test_unknown_price_label_joins_the_deployments_own_labels() -> None:
    d = dep("x", "custom/unknown",
            model_info={"routeiq": {"labels": {"tier": "gold"}, "quality_prior": 0.7}})
    c = build_candidate(d, lookup)
    assert c is not None and not set(PRICE_FIELDS) & set(c)
    assert c["labels"] == {"tier": "gold", "price": "unknown"}
    assert c["quality_prior"] == 0.7


def test_a_declared_price_wins_even_when_zero() -> None:
    cands, _ = build_candidates(
        [dep("self", "custom/llama", input_cost_per_token=0, output_cost_per_token=0),
         dep("cheap", "openai/gpt-4o-mini")],
        lambda m: None,
    )
    assert cands[0]["input_cost_per_mtok"] == 0.0 and cands[0]["output_cost_per_mtok"] == 0.0
    assert "labels" not in cands[0]


def test_a_price_declared_in_model_info_counts_when_above_zero() -> None:
    known = build_candidate(dep("m", "custom/llama", model_info={
        "input_cost_per_token": 2e-7, "output_cost_per_token": 8e-7}), lookup)
    assert known is not None and "labels" not in known
    assert known["input_cost_per_mtok"] == pytest.approx(0.2)
    assert known["output_cost_per_mtok"] == pytest.approx(0.8)
    zero = build_candidate(dep("z", "custom/llama", model_info={
        "input_cost_per_token": 0, "output_cost_per_token": 0}), lookup)
    assert zero is not None and zero["labels"] == {"price": "unknown"}
    assert not set(PRICE_FIELDS) & set(zero)


def test_one_known_price_stands_in_for_the_unknown_one() -> None:
    only_in = build_candidate(dep("i", "custom/x", input_cost_per_token=1e-6), lookup)
    assert only_in is not None and only_in["labels"] == {"price": "partial"}
    assert (only_in["input_cost_per_mtok"], only_in["output_cost_per_mtok"]) == (
        pytest.approx(1.0), pytest.approx(1.0))
    only_out = build_candidate(dep("o", "custom/x", model_info={"output_cost_per_token": 3e-6}),
                               lookup)
    assert only_out is not None and only_out["labels"] == {"price": "partial"}
    assert (only_out["input_cost_per_mtok"], only_out["output_cost_per_mtok"]) == (
        pytest.approx(3.0), pytest.approx(3.0))
    # a declared 0 is a known price: a self-hosted model with one price declared is free
    zero_in = build_candidate(dep("z", "custom/x", input_cost_per_token=0), lookup)
    assert zero_in is not None and zero_in["labels"] == {"price": "partial"}
    assert (zero_in["input_cost_per_mtok"], zero_in["output_cost_per_mtok"]) == (0.0, 0.0)
    # both known: no label, each its own
    both = build_candidate(dep("b", "custom/x", input_cost_per_token=1e-6,
                               output_cost_per_token=4e-6), lookup)
    assert both is not None and "labels" not in both
    assert (both["input_cost_per_mtok"], both["output_cost_per_mtok"]) == (
        pytest.approx(1.0), pytest.approx(4.0))


def test_a_partial_price_joins_the_deployments_own_labels() -> None:
    c = build_candidate(dep("i", "custom/x", input_cost_per_token=1e-6,
                            model_info={"routeiq": {"labels": {"tier": "gold"}}}), lookup)
    assert c is not None and c["labels"] == {"tier": "gold", "price": "partial"}


def _route_body() -> dict[str, Any]:
    cands, _ = build_candidates(
        [dep("big", "custom/my-gpt-4o"), dep("small", "custom/my-gpt-4o-mini"),
         dep("self", "custom/llama", input_cost_per_token=0, output_cost_per_token=0)],
        lambda m: None,
    )
    return build_route_request(model_group="auto", candidates=cands,
                               messages=[{"role": "user", "content": "hi there!"}])


def test_the_json_sent_has_no_price_keys_for_unknown_prices() -> None:
    """What the HTTP transport posts (httpx ``json=``): the keys are absent, not null or 0."""
    sent = json.loads(json.dumps(_route_body()))
    by_id = {c["id"]: c for c in sent["candidates"]}
    for cid in ("big", "small"):
        assert not set(PRICE_FIELDS) & set(by_id[cid])
        assert by_id[cid]["labels"] == {"price": "unknown"}
    assert by_id["self"]["input_cost_per_mtok"] == 0.0
    assert by_id["self"]["output_cost_per_mtok"] == 0.0


def test_the_grpc_request_leaves_unknown_prices_unset() -> None:
    """The gRPC transport's message: the optional price fields are unset (HasField False), so
    the sidecar sees "price unknown"; a declared 0 is set, so it stays a known free price."""
    pytest.importorskip("grpc", reason="the gRPC transport is the stub's [grpc] extra")
    from routeiq_litellm.grpc_transport import _route_request

    req = _route_request(_route_body())
    by_id = {c.id: c for c in req.candidates}
    for cid in ("big", "small"):
        assert not by_id[cid].HasField("input_cost_per_mtok")
        assert not by_id[cid].HasField("output_cost_per_mtok")
        assert dict(by_id[cid].labels) == {"price": "unknown"}
    assert by_id["self"].HasField("input_cost_per_mtok")
    assert by_id["self"].HasField("output_cost_per_mtok")
    assert by_id["self"].input_cost_per_mtok == 0.0


def test_deployments_without_id_are_skipped_and_duplicates_dropped() -> None:
    a, b = dep("a", "openai/gpt-4o-mini"), dep("a", "openai/o3-mini")
    cands, by_id = build_candidates([dep(None, "openai/gpt-4o-mini"), a, b], lookup)
    assert [c["id"] for c in cands] == ["a"]
    assert by_id["a"] is a


def test_cached_lookup_asks_once_per_model_within_ttl() -> None:
    calls: list[str] = []

    def counting(model: str) -> Mapping[str, Any] | None:
        calls.append(model)
        return lookup(model)

    cached = CachedLookup(counting, ttl_s=60)
    for _ in range(3):
        cached("openai/gpt-4o-mini")
        cached("nope")
    assert calls == ["openai/gpt-4o-mini", "nope"]
    expired = CachedLookup(counting, ttl_s=0)
    expired("openai/o3-mini")
    expired("openai/o3-mini")
    assert calls.count("openai/o3-mini") == 2


def test_real_litellm_cost_map() -> None:
    info = litellm_model_info("openai/gpt-4o-mini")
    assert info is not None
    c = build_candidate(dep("m", "openai/gpt-4o-mini"))
    assert c is not None
    assert c["input_cost_per_mtok"] == pytest.approx(info["input_cost_per_token"] * 1e6)
    assert c["max_input_tokens"] == info["max_input_tokens"]
    assert "tools" in c["capabilities"]
    assert litellm_model_info("not-a-provider/not-a-model-xyz") is None
