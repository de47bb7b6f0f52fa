"""The fast proto JSON paths answer exactly as google.protobuf.json_format does.

Parsing: whenever ``parse_plain`` builds a message, ``ParseDict`` reads the same object into an
equal message (and where it refuses, ``parse_json`` falls back to ``ParseDict``'s words).
Printing: ``to_dict`` equals ``MessageToDict`` key for key, in the same order, on generated
messages with NaN, infinities, -0.0, empty and full repeated and map fields.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api import proto_json
from routeiq_sidecar.api.convert import parse_json
from routeiq_sidecar.errors import RouteIQError
from routeiq_sidecar.loadtest.loadgen import with_candidates
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests
from tests.unit.api.test_convert import FULL

F = FieldDescriptor
REQUESTS = (pb.RouteRequest, pb.ClassifyRequest, pb.FeedbackRequest)
ANSWERS = (pb.RouteResponse, pb.ClassifyResponse, pb.FeedbackResponse, pb.GetInfoResponse)


def reference(obj: Any, cls: type[Message]) -> Message | None:
    msg = cls()
    try:
        json_format.ParseDict(obj, msg, ignore_unknown_fields=False, max_recursion_depth=32)
    except (json_format.ParseError, ValueError, TypeError, RecursionError, OverflowError):
        return None
    return msg


def same(a: Message, b: Message) -> bool:
    """Equal values and equal presence (ListFields compares which optional fields are set)."""
    return a == b and [f.name for f, _ in a.ListFields()] == [f.name for f, _ in b.ListFields()]


ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["\ud800", "NaN", "Infinity", "1.5", "12", "true", " 3"]),
)


def json_values(desc: Descriptor, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    """Objects for ``desc``: mostly its proto names with the right types, sometimes a camelCase
    name, an unknown key or a value of another type."""
    fields = {}
    for f in desc.fields:
        fields[f.name] = field_values(f, depth)
        if f.json_name != f.name:
            fields[f.json_name] = field_values(f, depth)
    fields["bogus_field"] = ODD_SCALARS
    keys = st.sampled_from(sorted(fields))
    return st.lists(keys, max_size=6, unique=True).flatmap(
        lambda ks: st.fixed_dictionaries({k: fields[k] for k in ks})
    )


def scalar_values(f: FieldDescriptor) -> st.SearchStrategy[Any]:
    good: st.SearchStrategy[Any]
    if f.cpp_type == F.CPPTYPE_STRING:
        good = st.text(max_size=8)
    elif f.cpp_type == F.CPPTYPE_BOOL:
        good = st.booleans()
    elif f.cpp_type in (F.CPPTYPE_INT32, F.CPPTYPE_UINT32):
        good = st.integers(min_value=-(2**33), max_value=2**33)
    else:
        good = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers())
    return st.one_of(good, good, good, ODD_SCALARS)


def field_values(f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        value = f.message_type.fields_by_name["value"]
        return st.one_of(st.dictionaries(st.text(max_size=4), scalar_values(value), max_size=3),
                         ODD_SCALARS)
    if f.message_type is not None:
        item: st.SearchStrategy[Any] = (
            json_values(f.message_type, depth + 1) if depth < 2 else st.just({})
        )
    else:
        item = scalar_values(f)
    if f.is_repeated:
        return st.one_of(st.lists(item, max_size=3), ODD_SCALARS)
    return st.one_of(item, item, ODD_SCALARS)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(REQUESTS).flatmap(lambda c: st.tuples(st.just(c), json_values(c.DESCRIPTOR)))
)
def test_fast_parse_only_answers_where_parsedict_reads_the_same(case: Any) -> None:
    cls, obj = case
    fast = proto_json.parse_plain(obj, cls)
    ref = reference(obj, cls)
    if fast is not None:
        assert ref is not None and same(fast, ref), (obj, fast, ref)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values(pb.RouteRequest.DESCRIPTOR))
def test_parse_json_answers_or_refuses_as_parsedict(obj: dict[str, Any]) -> None:
    body = json.dumps(obj).encode()
    ref = reference(json.loads(body), pb.RouteRequest)
    try:
        got = parse_json(body, pb.RouteRequest())
    except RouteIQError:
        assert ref is None
    else:
        assert ref is not None and same(got, ref)


def test_the_common_requests_take_the_fast_path() -> None:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(50, seed=2)] + [FULL]
    for body in bodies:
        fast = proto_json.parse_plain(json.loads(json.dumps(body)), pb.RouteRequest)
        ref = reference(body, pb.RouteRequest)
        assert fast is not None and ref is not None and same(fast, ref)
    assert proto_json.parse_plain({"requestId": "x"}, pb.RouteRequest) is None  # camelCase
    assert proto_json.parse_plain({"deadline_ms": "5"}, pb.RouteRequest) is None  # quoted
    assert proto_json.parse_plain({"prompt": None}, pb.RouteRequest) is None
    assert proto_json.parse_plain({"prompt": "\ud800"}, pb.RouteRequest) is None


# --- printing

ODD_FLOATS = st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1e300, 5e-324, 0.1])


def set_fields(msg: Message, data: st.DataObject, depth: int = 0) -> None:
    for f in msg.DESCRIPTOR.fields:
        if not data.draw(st.booleans()):
            continue
        target = getattr(msg, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            value_field = f.message_type.fields_by_name["value"]
            for k in data.draw(st.lists(st.text(max_size=4), max_size=3)):
                if value_field.message_type is not None:
                    set_fields(target[k], data, depth + 1)
                else:
                    target[k] = data.draw(scalar_out(value_field))
        elif f.message_type is not None:
            if f.is_repeated:
                for _ in range(data.draw(st.integers(0, 2))):
                    set_fields(target.add(), data, depth + 1) if depth < 3 else target.add()
            elif depth < 3:
                getattr(msg, f.name).SetInParent()
                set_fields(getattr(msg, f.name), data, depth + 1)
        elif f.is_repeated:
            target.extend(data.draw(st.lists(scalar_out(f), max_size=3)))
        else:
            setattr(msg, f.name, data.draw(scalar_out(f)))


def scalar_out(f: FieldDescriptor) -> st.SearchStrategy[Any]:
    if f.cpp_type == F.CPPTYPE_STRING:
        return st.text(max_size=6)
    if f.cpp_type == F.CPPTYPE_BOOL:
        return st.booleans()
    if f.cpp_type == F.CPPTYPE_INT32:
        return st.integers(-(2**31), 2**31 - 1)
    if f.cpp_type == F.CPPTYPE_UINT32:
        return st.integers(0, 2**32 - 1)
    if f.cpp_type == F.CPPTYPE_INT64:
        return st.integers(-(2**63), 2**63 - 1)
    if f.cpp_type == F.CPPTYPE_UINT64:
        return st.integers(0, 2**64 - 1)
    if f.cpp_type == F.CPPTYPE_FLOAT:
        return st.one_of(ODD_FLOATS, st.floats(width=32))
    if f.cpp_type == F.CPPTYPE_DOUBLE:
        return st.one_of(ODD_FLOATS, st.floats())
    if f.cpp_type == F.CPPTYPE_ENUM:
        return st.sampled_from([v.number for v in f.enum_type.values])
    raise AssertionError(f.full_name)


def printed(d: dict[str, Any]) -> str:
    return json.dumps(d)  # keys in order; NaN, -0.0 and floats spelled out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ANSWERS + REQUESTS), st.data())
def test_to_dict_prints_as_message_to_dict(cls: type[Message], data: st.DataObject) -> None:
    msg = cls()
    set_fields(msg, data)
    ref = json_format.MessageToDict(
        msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    assert printed(proto_json.to_dict(msg)) == printed(ref)


def test_route_answers_print_compiled() -> None:
    for cls in (pb.RouteResponse, pb.ClassifyResponse, pb.FeedbackResponse):
        assert proto_json.compiled(cls.DESCRIPTOR) is not None
    empty = proto_json.to_dict(pb.RouteResponse())
    assert empty["ranking"] == [] and "signals" not in empty and empty["lambda"] == 0.0
    empty["ranking"].append(1)  # a fresh list each time: answers never share defaults
    assert proto_json.to_dict(pb.RouteResponse())["ranking"] == []
