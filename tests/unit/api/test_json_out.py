"""REST answers printed by orjson (api/json_out.py) read back as what Starlette's stdlib printer
gave: the same values for every decision, error body and JSON-like value the transport answers
with, and the same failure where the stdlib could not print either (a lone surrogate)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from routeiq_sidecar.api import convert
from routeiq_sidecar.api.json_out import JSONAnswer
from routeiq_sidecar.api.rest import error_response
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from tests.unit.api.test_convert_json import decisions

SURROGATE_FREE = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
VALUES = st.recursive(
    st.none() | st.booleans() | SURROGATE_FREE
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SURROGATE_FREE, inner, max_size=4),
    max_leaves=20,
)


def both(value: Any) -> tuple[Any, Any]:
    return json.loads(JSONAnswer(value).body), json.loads(JSONResponse(value).body)


def same(a: Any, b: Any) -> bool:
    """Equal, with every float equal to the bit (-0.0 is not 0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1.0, a) == math.copysign(1.0, b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_json_like_values_read_back_the_same(value: Any) -> None:
    ours, stdlib = both(value)
    assert same(ours, stdlib)
    assert same(ours, value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions())
def test_decisions_read_back_the_same(d: Any) -> None:
    out = convert.route_json(d)
    assert same(json.loads(JSONAnswer(out).body), json.loads(JSONResponse(out).body))


def test_a_lone_surrogate_fails_in_both_printers() -> None:
    """The request readers refuse lone surrogates first (api/convert.py); were one to reach an
    answer, neither printer would write it (a 500 from the transport's catch-all, as before)."""
    with pytest.raises(UnicodeEncodeError):
        JSONResponse({"id": "\ud800"})
    with pytest.raises(TypeError):  # orjson.JSONEncodeError is a TypeError
        JSONAnswer({"id": "\ud800"})


def test_error_bodies_and_headers() -> None:
    r = error_response(RouteIQError(ErrorKind.OVERLOADED, "overloaded: ünïcode", retry_after_s=1))
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/json"
    assert r.headers["retry-after"] == "1"
    assert int(r.headers["content-length"]) == len(r.body)
    body = json.loads(r.body)
    assert body["error"]["message"] == "overloaded: ünïcode"
    assert "\\u" not in r.body.decode()  # UTF-8 as written, as the stdlib printer gave it


def test_the_printed_bytes_of_a_decision_are_compact_utf8() -> None:
    value = {"reason": "größer", "x": 0.1, "n": [1, 2], "ok": True, "none": None}
    assert JSONAnswer(value).body == JSONResponse(value).body
    want = '{"reason":"größer","x":0.1,"n":[1,2],"ok":true,"none":null}'
    assert JSONAnswer(value).body == want.encode()
