"""RouteRequest JSON from LiteLLM's arguments; the decision kept for the callbacks."""

from __future__ import annotations

from typing import Any

from routeiq_litellm.request import (
    DECISION_KEY,
    build_route_request,
    decision_for,
    forget_decision,
    metadata_of,
    remember_decision,
)

CANDS = [{"id": "a", "model": "m"}]


def test_chat_messages_with_parts_and_images() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [
            {"type": "text", "text": "what is"},
            {"type": "image_url", "image_url": {"url": "data:..."}},
            {"type": "text", "text": "this?"},
        ]},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "content": "42", "name": "calc"},
    ]
    body = build_route_request(model_group="auto", candidates=CANDS, messages=messages,
                               request_kwargs={"litellm_call_id": "call-1"})
    assert body["request_id"] == "call-1"
    assert body["model_group"] == "auto"
    assert body["candidates"] == CANDS
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is\nthis?"},
        {"role": "assistant", "content": ""},
        {"role": "tool", "content": "42", "name": "calc"},
    ]
    assert body["required_capabilities"] == ["vision"]
    assert "prompt" not in body


def test_input_for_embeddings_and_responses() -> None:
    body = build_route_request(model_group="e", candidates=CANDS, input="embed me")
    assert body["prompt"] == "embed me" and "messages" not in body
    body = build_route_request(model_group="e", candidates=CANDS, input=["a", "b"])
    assert body["prompt"] == "a\nb"
    body = build_route_request(model_group="r", candidates=CANDS,
                               input=[{"role": "user", "content": "hi"}])
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert len(body["request_id"]) == 32  # generated when LiteLLM gave none


def test_session_user_and_per_request_overrides() -> None:
    kw: dict[str, Any] = {
        "user": "u-1",
        "tools": [{"type": "function"}],
        "response_format": {"type": "json_schema"},
        "metadata": {"session_id": "s-1", "routeiq_strategy": "strongest"},
    }
    body = build_route_request(model_group="auto", candidates=CANDS, messages=[],
                               request_kwargs=kw, profile="eco", strategy="knn", deadline_ms=20)
    assert body["session_id"] == "s-1"
    assert body["user_id"] == "u-1"
    assert body["profile"] == "eco"
    assert body["strategy"] == "strongest"
    assert body["required_capabilities"] == ["tools", "json"]
    assert body["deadline_ms"] == 20


def test_proxy_user_ids_and_litellm_metadata() -> None:
    kw = {"litellm_metadata": {"user_api_key_user_id": "key-owner", "routeiq_profile": "premium"},
          "litellm_session_id": "sess"}
    body = build_route_request(model_group="auto", candidates=CANDS, messages=[], request_kwargs=kw)
    assert body["user_id"] == "key-owner"
    assert body["session_id"] == "sess"
    assert body["profile"] == "premium"
    assert "strategy" not in body and "required_capabilities" not in body


def test_decisions_are_kept_per_attempt() -> None:
    kw: dict[str, Any] = {"metadata": {"model_group": "auto"}}
    remember_decision(kw, "d1", "a", "src")
    forget_decision(kw)  # a retry starts
    assert DECISION_KEY not in kw["metadata"]
    remember_decision(kw, "d2", "b", "src")
    meta = metadata_of(kw)
    assert meta[DECISION_KEY] == "d2"
    assert decision_for(meta, "a") == "d1"  # the first attempt's failure, logged late
    assert decision_for(meta, "b") == "d2"
    assert decision_for(meta, "c") is None  # LiteLLM chose it (fallback)
    assert decision_for({}, "a") is None


def test_decision_goes_to_litellm_metadata_when_that_is_the_bucket() -> None:
    kw: dict[str, Any] = {"litellm_metadata": {}}
    remember_decision(kw, "d", "a")
    assert kw["litellm_metadata"][DECISION_KEY] == "d" and "metadata" not in kw
    bare: dict[str, Any] = {}
    remember_decision(bare, "d", "a")
    assert bare["metadata"][DECISION_KEY] == "d"
