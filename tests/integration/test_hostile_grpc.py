"""Hostile gRPC input against a real server: raw bytes (garbage, invalid UTF-8, wrong wire types)
through a generic call with identity serializers, and hypothesis-made Route / Feedback messages
with any field values. Never UNKNOWN or INTERNAL: every refusal a clear status with details and
the request id in the trailing metadata; the server stays up."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from tests.conftest import (
    CHEAP,
    STRONG,
    ServerProcess,
)

ROUTE = "/routeiq.v1.RouterService/Route"
FEEDBACK = "/routeiq.v1.RouterService/Feedback"
CLEAR = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
}
EXAMPLES = 200


@pytest.fixture(scope="module")
def server(quiet_server: ServerProcess) -> Iterator[ServerProcess]:
    yield quiet_server
    assert httpx.get(f"{quiet_server.http}/healthz").status_code == 200  # still up after it all


@pytest.fixture(scope="module")
def channel(server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc) as ch:
        yield ch


def raw_call(channel: grpc.Channel, method: str, body: bytes, rid: str) -> grpc.StatusCode:
    """One call with the body as given (no serializer); checks the answer is clear."""
    call = channel.unary_unary(method)  # no serializers: bytes in, bytes out
    try:
        call(body, timeout=30, metadata=(("x-request-id", rid),))
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        code, details = err.code(), err.details()  # type: ignore[attr-defined]
        md = dict(err.trailing_metadata() or ())  # type: ignore[attr-defined]
        assert code in CLEAR, (code, details, body[:80])
        assert details, code
        assert md.get("x-request-id") == rid, md
        return code  # type: ignore[no-any-return]


# --- item 10: decode errors are INVALID_ARGUMENT with the request id

INVALID_UTF8 = b"\x22\x02\xc3\x28"  # field 4 (prompt), length 2, an invalid UTF-8 sequence
UNDECODABLE = [
    ("invalid utf-8 in prompt", ROUTE, INVALID_UTF8),
    ("invalid utf-8 in candidate id", ROUTE, b"\x2a\x04\x0a\x02\xff\xfe"),
    ("invalid utf-8 in decision_id", FEEDBACK, b"\x0a\x03\xed\xa0\x80"),  # a lone surrogate
    ("garbage", ROUTE, b"\xff\xff\xff\xff\xff\xff"),
    ("garbage feedback", FEEDBACK, bytes(range(256))),
    ("truncated length", ROUTE, b"\x22\x7f" + b"a" * 10),
    ("wire type 7", FEEDBACK, b"\x0f\x00"),
]


@pytest.mark.parametrize(("name", "method", "body"), UNDECODABLE, ids=[u[0] for u in UNDECODABLE])
def test_undecodable_requests_are_invalid_argument_with_the_request_id(
    channel: grpc.Channel, name: str, method: str, body: bytes
) -> None:
    call = channel.unary_unary(method)
    with pytest.raises(grpc.RpcError) as exc:
        call(body, timeout=30, metadata=(("x-request-id", f"bad-{len(body)}"),))
    err = exc.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, err.code(), err.details())  # type: ignore[attr-defined]
    assert "not a valid routeiq.v1." in err.details()  # type: ignore[attr-defined]
    assert dict(err.trailing_metadata())["x-request-id"] == f"bad-{len(body)}"  # type: ignore[attr-defined]


# --- hypothesis: any bytes, any wire-format fields, any field values


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@st.composite
def wire_fields(draw: st.DrawFn) -> bytes:
    """Well-formed wire records with random field numbers, wire types and payloads: wrong
    types for known fields, unknown fields, invalid UTF-8 in strings, nested garbage."""
    out = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        field = draw(st.integers(1, 20))
        wire = draw(st.sampled_from([0, 1, 2, 5]))
        out += _varint(field << 3 | wire)
        if wire == 0:
            out += _varint(draw(st.integers(0, 2**64 - 1)))
        elif wire == 1:
            out += struct.pack("<d", draw(st.floats(width=64)))
        elif wire == 5:
            out += draw(st.binary(min_size=4, max_size=4))
        else:
            payload = draw(st.binary(max_size=64))
            out += _varint(len(payload)) + payload
    return bytes(out)


any_bytes = st.one_of(st.binary(max_size=512), wire_fields())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=any_bytes, method=st.sampled_from([ROUTE, FEEDBACK]))
def test_any_bytes_get_a_clear_status(channel: grpc.Channel, body: bytes, method: str) -> None:
    raw_call(channel, method, body, "h-bytes")


text = st.text(max_size=80)  # any code point protobuf can carry
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
int32 = st.integers(-(2**31), 2**31 - 1)
string_map = st.dictionaries(text, text, max_size=4)
candidates = st.builds(
    pb.Candidate,
    id=text,
    model=text,
    input_cost_per_mtok=floats,
    output_cost_per_mtok=floats,
    max_input_tokens=int32,
    capabilities=st.lists(text, max_size=4),
    quality_prior=floats,
    labels=string_map,
)
known_candidates = st.sampled_from([pb.Candidate(**CHEAP), pb.Candidate(**STRONG)])
route_requests = st.builds(
    pb.RouteRequest,
    request_id=text,
    model_group=text,
    messages=st.lists(
        st.builds(
            pb.Message,
            role=st.one_of(st.sampled_from(["user", "assistant", "system", "tool"]), text),
            content=st.text(max_size=400),
            name=text,
        ),
        max_size=5,
    ),
    prompt=st.text(max_size=400),
    candidates=st.lists(st.one_of(candidates, known_candidates), max_size=4),
    profile=st.one_of(st.sampled_from(["", "auto", "eco", "premium", "free", "reasoning"]), text),
    strategy=st.one_of(st.sampled_from(["", "centroid", "cheapest", "strongest", "length"]), text),
    session_id=text,
    user_id=text,
    required_capabilities=st.lists(text, max_size=3),
    max_cost_per_mtok=floats,
    quality_cost_tradeoff=floats,
    deadline_ms=int32,
    metadata=string_map,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(req=route_requests)
def test_any_route_request_gets_a_clear_status(channel: grpc.Channel, req: pb.RouteRequest) -> None:
    raw_call(channel, ROUTE, req.SerializeToString(), "h-route")


@pytest.fixture(scope="module")
def decision_ids(channel: grpc.Channel) -> list[str]:
    route = channel.unary_unary(
        ROUTE,
        request_serializer=pb.RouteRequest.SerializeToString,
        response_deserializer=pb.RouteResponse.FromString,
    )
    req = pb.RouteRequest(prompt="hello", candidates=[pb.Candidate(**CHEAP)])
    return [route(req, timeout=30).decision_id for _ in range(3)]


def test_any_feedback_request_gets_a_clear_status(
    channel: grpc.Channel, decision_ids: list[str]
) -> None:
    feedback_requests = st.builds(
        pb.FeedbackRequest,
        decision_id=st.one_of(st.sampled_from(decision_ids), text),
        score=floats,
        success=st.booleans(),
        latency_ms=floats,
        cost_usd=floats,
        error=st.text(max_size=3000),
        request_id=text,
    )
    seen: set[grpc.StatusCode] = set()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(req=feedback_requests)
    def check(req: pb.FeedbackRequest) -> None:
        seen.add(raw_call(channel, FEEDBACK, req.SerializeToString(), "h-feedback"))

    check()
    assert grpc.StatusCode.INVALID_ARGUMENT in seen or grpc.StatusCode.NOT_FOUND in seen, seen
