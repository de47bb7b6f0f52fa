"""REST's hot route without proto messages answers exactly as the message path does.

``route_request_json(body)`` gives the ``RouteInput`` of ``route_in(parse_json(body))`` or the
same error; ``route_json(decision)`` the dict of ``to_json_dict(route_out(decision))``: checked
on the load generator's requests, on generated request objects (right and wrong types, unknown
and camelCase keys, lone surrogates) and on generated decisions (NaN, infinities, -0.0, float32
rounding of ``escalated_share``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api import convert
from routeiq_sidecar.errors import RouteIQError
from routeiq_sidecar.loadtest.loadgen import with_candidates
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests
from routeiq_sidecar.types import CandidateSpec, Decision, Score, Signals, Timings
from tests.unit.api.test_convert import FULL
from tests.unit.api.test_proto_json import json_values


def by_message(body: bytes, rid: str = "rid-0") -> Any:
    """The message path's answer: the RouteInput, or the error's (field, message)."""
    try:
        return convert.route_in(convert.parse_json(body, pb.RouteRequest()), rid)
    except RouteIQError as err:
        return ("error", err.kind, err.field, str(err))


def direct(body: bytes, rid: str = "rid-0") -> Any:
    try:
        return convert.route_request_json(body, rid)
    except RouteIQError as err:
        return ("error", err.kind, err.field, str(err))


def same(a: Any, b: Any) -> bool:
    """Equal answers; NaN fields (``"NaN"`` is valid proto JSON for a double) equal by repr."""
    return bool(a == b) or repr(a) == repr(b)


def test_every_field_of_the_messages_is_read() -> None:
    # a new proto field must be added to the fast reader too (else it would be dropped)
    assert {f.name for f in pb.RouteRequest.DESCRIPTOR.fields} == convert.ROUTE_FIELDS
    assert {f.name for f in pb.Candidate.DESCRIPTOR.fields} == convert.CANDIDATE_FIELDS
    assert {f.name for f in pb.Message.DESCRIPTOR.fields} == convert.MESSAGE_FIELDS


def test_common_and_full_requests_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(60, seed=3)]
    objs = [*bodies, FULL, {"prompt": "hi"}, {}]
    expected = [by_message(json.dumps(o, ensure_ascii=False).encode()) for o in objs]

    def no_message(*_: Any) -> None:
        raise AssertionError("took the message path")

    monkeypatch.setattr(convert, "parse_object", no_message)  # each must take the fast path
    for obj, want in zip(objs, expected, strict=True):
        got = direct(json.dumps(obj, ensure_ascii=False).encode())
        assert not isinstance(got, tuple), got
        assert got == want


def test_prices_and_priors_keep_their_presence() -> None:
    body = json.dumps({"prompt": "x", "candidates": [
        {"id": "a", "model": "m", "input_cost_per_mtok": 0},
        {"id": "b", "model": "m"},
        {"id": "c", "model": "m", "output_cost_per_mtok": 2, "quality_prior": 0},
    ], "max_cost_per_mtok": 0}).encode()
    inp = convert.route_request_json(body, "r")
    assert [c.price_known for c in inp.candidates] == [True, False, True]
    assert [c.quality_prior for c in inp.candidates] == [None, None, 0.0]
    assert inp.max_cost_per_mtok == 0.0 and inp.quality_cost_tradeoff is None
    assert inp == by_message(body, "r")


@pytest.mark.parametrize("body", [
    b'{"prompt": "\\ud800"}',  # a lone surrogate: the message path refuses it
    b'{"prompt": "\\uD83D\\uDE00 ok"}',  # a pair: read (by the message path)
    b'{"requestId": "x", "prompt": "hi"}',  # camelCase
    b'{"deadline_ms": "5", "prompt": "hi"}',  # quoted number
    b'{"prompt": null}',
    b'{"prompt": "hi", "bogus": 1}',
    b'{"prompt": "hi", "deadline_ms": 4294967296}',
    b'{"prompt": "hi", "max_cost_per_mtok": 1e400}',
    b"[]", b"", b"{", b"\xff",
])
def test_odd_bodies_answer_as_the_message_path(body: bytes) -> None:
    assert same(direct(body), by_message(body))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values(pb.RouteRequest.DESCRIPTOR), st.booleans())
def test_generated_requests_read_or_fail_the_same(obj: dict[str, Any], ascii_only: bool) -> None:
    body = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert same(direct(body), by_message(body))


# --- printing

FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1e300, 5e-324, 0.1, 1 / 3]),
    st.floats(),
)
TEXT = st.text(max_size=6)
INT32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def decisions(draw: st.DrawFn) -> Decision:
    selected = CandidateSpec(id=draw(TEXT), model=draw(TEXT))
    ranking = draw(st.lists(st.builds(
        Score, candidate_id=TEXT, model=TEXT, predicted_quality=FLOATS, estimated_cost=FLOATS,
        utility=FLOATS, eligible=st.booleans(), ineligible_reason=TEXT, quality_source=TEXT,
    ), max_size=3))
    signals = Signals(
        category=draw(TEXT), complexity=draw(TEXT), confidence=draw(FLOATS),
        complexity_score=draw(FLOATS), estimated_prompt_tokens=draw(INT32),
        category_scores=draw(st.dictionaries(TEXT, FLOATS, max_size=3)),
    )
    timings = Timings(*draw(st.tuples(INT32, INT32, INT32, INT32, INT32, INT32)),
                      cache_hit=draw(st.booleans()), encoder=draw(TEXT),
                      escalated=draw(st.booleans()),
                      escalated_share=draw(st.one_of(FLOATS, st.floats(0, 1))))
    return Decision(
        decision_id=draw(TEXT), request_id=draw(TEXT), selected=selected, ranking=ranking,
        strategy=draw(TEXT), profile=draw(TEXT), lam=draw(FLOATS), signals=signals,
        reason=draw(TEXT), timings=timings, bundle_version=draw(TEXT),
        degraded=draw(st.booleans()), sticky=draw(st.booleans()), experiment=draw(TEXT),
        arm=draw(TEXT), shadow_strategy=draw(TEXT), shadow_selected_id=draw(TEXT),
    )


def printed(d: dict[str, Any]) -> str:
    return json.dumps(d, sort_keys=True)  # NaN, -0.0 and every float spelled out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions())
def test_decisions_print_as_the_message_path(d: Decision) -> None:
    assert printed(convert.route_json(d)) == printed(convert.to_json_dict(convert.route_out(d)))


def test_nan_prices_read_the_same() -> None:
    """The example hypothesis found: both paths read ``"NAN"`` as a NaN double."""
    body = b'{"maxCostPerMtok": "NAN"}'
    got, want = direct(body), by_message(body)
    assert same(got, want)
    assert not isinstance(got, tuple) and math.isnan(got.max_cost_per_mtok)
