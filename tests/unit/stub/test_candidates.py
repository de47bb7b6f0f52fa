"""Candidates from LiteLLM deployments: ids, prices per million tokens, context, capabilities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from routeiq_litellm.candidates import (
    UNKNOWN_PRICE_PER_MTOK,
    CachedLookup,
    build_candidate,
    build_candidates,
    litellm_model_info,
)

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


def test_unknown_model_is_labelled_price_unknown_and_has_no_limit() -> None:
    c = build_candidate(dep("x", "custom/unknown"), lookup)
    assert c == {
        "id": "x",
        "model": "custom/unknown",
        "input_cost_per_mtok": 0.0,
        "output_cost_per_mtok": 0.0,
        "max_input_tokens": 0,
        "capabilities": [],
        "labels": {"price": "unknown"},
    }


def test_a_zero_price_in_the_cost_map_is_unknown_not_free() -> None:
    """LiteLLM's bundled map lists some models at $0: they must not win every easy prompt."""
    zero = {"openai/free-looking": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}}
    cands, _ = build_candidates(
        [dep("cheap", "openai/gpt-4o-mini"), dep("z", "openai/free-looking"),
         dep("r", "openai/o3-mini")],
        lambda m: COST_MAP.get(m) or zero.get(m),
    )
    by_id = {c["id"]: c for c in cands}
    assert by_id["z"]["labels"] == {"price": "unknown"}
    # priced as the dearest known fellow candidate: it never wins on price
    assert by_id["z"]["input_cost_per_mtok"] == pytest.approx(1.1)
    assert by_id["z"]["output_cost_per_mtok"] == pytest.approx(4.4)
    assert "labels" not in by_id["cheap"]


def test_a_declared_price_wins_even_when_zero() -> None:
    cands, _ = build_candidates(
        [dep("self", "custom/llama", input_cost_per_token=0, output_cost_per_token=0),
         dep("cheap", "openai/gpt-4o-mini")],
        lookup,
    )
    assert cands[0]["input_cost_per_mtok"] == 0.0 and "labels" not in cands[0]


def test_when_no_price_is_known_every_candidate_gets_the_same_nonzero_price() -> None:
    cands, _ = build_candidates([dep("a", "custom/a"), dep("b", "custom/b")], lookup)
    assert {(c["input_cost_per_mtok"], c["output_cost_per_mtok"]) for c in cands} == {
        UNKNOWN_PRICE_PER_MTOK
    }


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
