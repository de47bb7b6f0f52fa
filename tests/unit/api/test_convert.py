"""Proto JSON in and out: parse errors name the field, defaults are printed, engine types map."""

from __future__ import annotations

import json

import pytest

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api.convert import (
    classify_out,
    explain_parse_error,
    feedback_outcome,
    parse_json,
    route_in,
    route_out,
    to_json_dict,
)
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.types import CandidateSpec, Classified, Decision, Score, Signals, Timings

FULL = {
    "request_id": "req-1",
    "model_group": "auto",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi", "name": "alice"},
    ],
    "candidates": [
        {
            "id": "a",
            "model": "openai/gpt-4o-mini",
            "input_cost_per_mtok": 0.15,
            "output_cost_per_mtok": 0.6,
            "max_input_tokens": 128000,
            "capabilities": ["tools", "json"],
            "quality_prior": 0,
            "labels": {"tier": "cheap"},
        },
        {"id": "b", "model": "anthropic/claude-opus-4"},
    ],
    "profile": "eco",
    "strategy": "centroid",
    "session_id": "s",
    "user_id": "u",
    "required_capabilities": ["tools"],
    "max_cost_per_mtok": 0,
    "quality_cost_tradeoff": 0.3,
    "deadline_ms": 50,
    "metadata": {"team": "x"},
}


def parse(obj: object) -> pb.RouteRequest:
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    msg = parse_json(body, pb.RouteRequest())
    assert isinstance(msg, pb.RouteRequest)
    return msg


def refused(obj: object) -> RouteIQError:
    with pytest.raises(RouteIQError) as err:
        parse(obj)
    e = err.value
    assert e.kind is ErrorKind.INVALID_ARGUMENT
    assert e.field
    assert str(e).startswith(f"{e.field}: ")
    return e


# --- parsing
def test_full_request_round_trip_to_engine_input() -> None:
    inp = route_in(parse(FULL), "fallback-id")
    assert inp.request_id == "req-1"
    assert inp.model_group == "auto"
    assert [(m.role, m.content, m.name) for m in inp.messages] == [
        ("system", "be brief", ""),
        ("user", "hi", "alice"),
    ]
    a, b = inp.candidates
    assert a == CandidateSpec(
        "a", "openai/gpt-4o-mini", 0.15, 0.6, 128000, ("tools", "json"), 0.0, {"tier": "cheap"}
    )
    assert a.quality_prior == 0.0  # explicit zero kept (optional field presence)
    assert b.quality_prior is None and b.capabilities == () and b.labels == {}
    assert inp.profile == "eco" and inp.strategy == "centroid"
    assert (inp.session_id, inp.user_id) == ("s", "u")
    assert inp.required_capabilities == ("tools",)
    assert inp.max_cost_per_mtok == 0.0
    assert inp.quality_cost_tradeoff == 0.3
    assert inp.deadline_ms == 50
    assert inp.metadata == {"team": "x"}


def test_absent_optionals_are_none() -> None:
    inp = route_in(parse({"prompt": "hello"}), "generated")
    assert inp.request_id == "generated"
    assert inp.prompt == "hello"
    assert inp.max_cost_per_mtok is None
    assert inp.quality_cost_tradeoff is None
    assert inp.candidates == () and inp.messages == ()


def test_unknown_field() -> None:
    e = refused({"prompt": "x", "bogus": 1})
    assert e.field == "bogus"
    assert str(e) == "bogus: unknown field 'bogus'"


def test_unknown_nested_candidate_field() -> None:
    e = refused({"candidates": [{"id": "a"}, {"id": "b", "price": 3}]})
    assert e.field == "candidates[1].price"
    assert "unknown field 'price'" in str(e)


def test_unknown_nested_message_field() -> None:
    e = refused({"messages": [{"role": "user", "text": "hi"}]})
    assert e.field == "messages[0].text"


def test_wrong_type_top_level() -> None:
    assert refused({"prompt": 5}).field == "prompt"
    assert refused({"deadline_ms": "soon"}).field == "deadline_ms"
    assert refused({"deadline_ms": 1.5}).field == "deadline_ms"
    assert refused({"max_cost_per_mtok": "x"}).field == "max_cost_per_mtok"
    assert refused({"required_capabilities": "tools"}).field == "required_capabilities"
    assert refused({"candidates": {"id": "a"}}).field == "candidates"
    assert refused({"metadata": {"a": 1}}).field == "metadata"


def test_wrong_type_nested_candidate_field() -> None:
    e = refused({"candidates": [{"id": "a"}, {"id": "b", "input_cost_per_mtok": "abc"}]})
    assert e.field == "candidates[1].input_cost_per_mtok"
    assert "abc" in str(e)
    e = refused({"candidates": [{"id": "a", "quality_prior": "high"}]})
    assert e.field == "candidates[0].quality_prior"
    # protobuf reports some type errors without the index: the field is still named
    e = refused({"candidates": [{"id": 3}]})
    assert e.field.startswith("candidates") and e.field.endswith(".id")
    e = refused({"candidates": [{"id": "a", "capabilities": [1]}]})
    assert e.field.startswith("candidates") and e.field.endswith(".capabilities")
    e = refused({"messages": [{"role": "user", "content": 3}]})
    assert e.field.startswith("messages") and e.field.endswith(".content")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"  \n", "empty body"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"{bad", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b'"text"', "must be a JSON object, not str"),
        (b'{"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
)
def test_body_errors(body: bytes, reason: str) -> None:
    e = refused(body)
    assert e.field == "body"
    assert reason in str(e)


def test_explain_parse_error() -> None:
    assert explain_parse_error(
        'Failed to parse candidates field: Message type "routeiq.v1.Candidate" has no field '
        'named "zz" at "RouteRequest.candidates[2]".\n Available Fields(except extensions): '
        "\"['id', 'model']\".",
        "RouteRequest",
    ) == ("candidates[2].zz", "unknown field 'zz'")
    assert explain_parse_error(
        "Failed to parse candidates field: Failed to parse input_cost_per_mtok field: "
        "Couldn't parse float: abc at RouteRequest.candidates[0].input_cost_per_mtok..",
        "RouteRequest",
    ) == ("candidates[0].input_cost_per_mtok", "Couldn't parse float: abc")
    assert explain_parse_error("something odd", "RouteRequest") == ("body", "something odd")


# --- printing
def test_to_json_dict_prints_defaults() -> None:
    out = to_json_dict(pb.RouteResponse())
    assert out["selected_id"] == ""
    assert out["degraded"] is False
    assert out["sticky"] is False
    assert out["ranking"] == []
    assert out["lambda"] == 0.0
    assert "selectedId" not in out  # proto field names, not lowerCamelCase
    req = to_json_dict(pb.RouteRequest(prompt="hi"))
    assert req["deadline_ms"] == 0
    assert req["metadata"] == {} and req["candidates"] == []
    assert "max_cost_per_mtok" not in req  # optional (presence) fields only when set


def test_route_out() -> None:
    sel = CandidateSpec("a", "openai/gpt-4o-mini", 0.15, 0.6)
    signals = Signals("code", "complex", 0.7, 0.9, 120, {"code": 0.7, "math": 0.3})
    d = Decision(
        decision_id="d1",
        request_id="r1",
        selected=sel,
        ranking=[
            Score("a", sel.model, 0.9, 0.0001, 0.85, True, "", "price"),
            Score("b", "m", 0.0, 0.0, 0.0, False, "lacks capability tools", "prior"),
        ],
        strategy="centroid",
        profile="auto",
        lam=0.15,
        signals=signals,
        reason="because",
        timings=Timings(tokenize_us=5, embed_us=7, batch_size=3, cache_hit=True,
                        encoder="minilm", escalated=True, escalated_share=0.25),
        bundle_version="abc123",
    )
    out = to_json_dict(route_out(d))
    assert out["selected_id"] == "a" and out["selected_model"] == "openai/gpt-4o-mini"
    assert out["lambda"] == 0.15
    assert [r["candidate_id"] for r in out["ranking"]] == ["a", "b"]
    assert out["ranking"][1]["eligible"] is False
    assert out["ranking"][1]["ineligible_reason"] == "lacks capability tools"
    assert out["ranking"][1]["predicted_quality"] == 0.0  # defaults printed in nested messages
    assert out["signals"]["category_scores"] == {"code": 0.7, "math": 0.3}
    assert out["signals"]["estimated_prompt_tokens"] == 120
    assert out["timings"]["cache_hit"] is True and out["timings"]["classify_us"] == 0
    assert (out["timings"]["encoder"], out["timings"]["escalated"]) == ("minilm", True)
    assert out["timings"]["escalated_share"] == 0.25
    assert out["degraded"] is False and out["shadow_selected_id"] == ""
    # and back: the JSON parses as a RouteResponse
    back = parse_json(json.dumps(out).encode(), pb.RouteResponse())
    assert back == route_out(d)


def test_classify_out() -> None:
    c = Classified(Signals("math", "simple", 0.5, 0.1, 3), Timings(total_us=9), "v1")
    out = to_json_dict(classify_out(c, "r9"))
    assert out["request_id"] == "r9" and out["bundle_version"] == "v1"
    assert out["signals"]["category"] == "math"
    assert out["timings"]["total_us"] == 9


def test_feedback_outcome_presence() -> None:
    req = parse_json(b'{"decision_id": "d", "score": 0}', pb.FeedbackRequest())
    assert feedback_outcome(req) == {
        "score": 0.0,
        "success": None,
        "latency_ms": 0.0,
        "cost_usd": 0.0,
        "error": "",
    }
    req = parse_json(
        b'{"decision_id": "d", "success": false, "latency_ms": 12.5}', pb.FeedbackRequest()
    )
    out = feedback_outcome(req)
    assert out["score"] is None and out["success"] is False and out["latency_ms"] == 12.5
