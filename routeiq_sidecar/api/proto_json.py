"""Proto JSON on the hot REST route without protobuf's pure-Python ``json_format`` walk.

``json_format.ParseDict`` and ``MessageToDict`` dispatch on every field's descriptor at every
call; on the static tier they cost as much as the decision. Here each message type gets a plan
made once from its descriptor:

- ``parse_plain(obj, cls)``: when every key of ``obj`` (recursively) is a field's proto name and
  every value has exactly the JSON type ``ParseDict`` reads unchanged (str for strings, bool for
  bools, int for integers, finite float or small int for doubles, lists, string maps, objects
  for messages), the message is built by the C constructor; anything else (camelCase names,
  nulls, quoted numbers, unknown fields, wrong types, values the constructor refuses) returns
  None, and the caller runs ``ParseDict`` for its result or its error. So answers and errors
  stay those of ``ParseDict``.
- ``to_dict(message)``: ``MessageToDict(preserving_proto_field_name=True,
  always_print_fields_with_no_presence=True)``, same keys in the same order, same values (int64
  as strings, non-finite doubles as "NaN"/"Infinity", floats shortest), for messages without
  enums, bytes or well-known types (``compiled`` refuses those at import of the plan).

tests/unit/api/test_proto_json.py checks both against ``json_format`` on generated inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.internal import type_checkers
from google.protobuf.message import Message

F = FieldDescriptor
_INT = frozenset((F.CPPTYPE_INT32, F.CPPTYPE_UINT32))
_INT64 = frozenset((F.CPPTYPE_INT64, F.CPPTYPE_UINT64))
_FLOAT = frozenset((F.CPPTYPE_DOUBLE, F.CPPTYPE_FLOAT))
_EXACT_FLOAT_INT = 2**53  # ints a double field takes as float(value) with no rounding
_INT_RANGE = {F.CPPTYPE_INT32: (-(2**31), 2**31 - 1), F.CPPTYPE_UINT32: (0, 2**32 - 1)}

Check = Callable[[Any], bool]


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _scalar_check(field: FieldDescriptor) -> Check | None:
    """A test that ``ParseDict`` would read this JSON value unchanged (None: never fast)."""
    cpp = field.cpp_type
    if cpp == F.CPPTYPE_STRING and field.type == F.TYPE_STRING:
        return lambda v: type(v) is str
    if cpp == F.CPPTYPE_BOOL:
        return lambda v: type(v) is bool
    if cpp in _INT_RANGE:
        lo, hi = _INT_RANGE[cpp]
        return lambda v: type(v) is int and lo <= v <= hi
    if cpp == F.CPPTYPE_DOUBLE:
        return lambda v: (type(v) is float and math.isfinite(v)) or (
            type(v) is int and -_EXACT_FLOAT_INT <= v <= _EXACT_FLOAT_INT
        )
    return None  # float32 range checks, int64 strings, enums, bytes: ParseDict decides


_PLANS: dict[str, dict[str, Check]] = {}


def _plan(desc: Descriptor) -> dict[str, Check]:
    """Field proto name -> check of a JSON value for it; fields absent here are never fast."""
    plan = _PLANS.get(desc.full_name)
    if plan is not None:
        return plan
    plan = {}
    _PLANS[desc.full_name] = plan  # recursive types see the (filling) plan
    for field in desc.fields:
        if field.containing_oneof is not None and not _synthetic_oneof(field):
            continue
        check: Check | None
        if _is_map(field):
            key, value = (field.message_type.fields_by_name[n] for n in ("key", "value"))
            check = _map_check(key, value)
        elif field.message_type is not None:
            check = _message_check(field.message_type)
        else:
            check = _scalar_check(field)
        if check is None:
            continue
        if field.is_repeated and not _is_map(field):
            check = _list_check(check)
        plan[field.name] = check
    return plan


def _synthetic_oneof(field: FieldDescriptor) -> bool:
    oneof = field.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and oneof.name == f"_{field.name}"


def _map_check(key: FieldDescriptor, value: FieldDescriptor) -> Check | None:
    if key.type != F.TYPE_STRING or value.type != F.TYPE_STRING:
        return None
    return lambda v: type(v) is dict and all(
        type(k) is str and type(x) is str for k, x in v.items()
    )


def _message_check(desc: Descriptor) -> Check | None:
    if desc.file.package == "google.protobuf":  # well-known types have their own JSON forms
        return None
    return lambda v: type(v) is dict and plain(v, desc)


def _list_check(item: Check) -> Check:
    return lambda v: type(v) is list and all(item(x) for x in v)


def plain(obj: dict[str, Any], desc: Descriptor) -> bool:
    plan = _plan(desc)
    for name, value in obj.items():
        check = plan.get(name)
        if check is None or not check(value):
            return False
    return True


def parse_plain(obj: dict[str, Any], cls: type[Message]) -> Message | None:
    """``cls`` built from ``obj`` when ``ParseDict`` would read it the same way, else None."""
    if not plain(obj, cls.DESCRIPTOR):
        return None
    try:
        return cls(**obj)
    except (ValueError, TypeError):  # e.g. an unpaired surrogate: ParseDict words the error
        return None


# --- printing

Printer = Callable[[Any], Any]
_PRINTERS: dict[str, Printer] = {}


def float_out(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "-Infinity" if v < 0 else "Infinity"
    return v


def float32_out(v: float) -> Any:
    if math.isnan(v) or math.isinf(v):
        return float_out(v)
    return type_checkers.ToShortestFloat(v)


def _value_printer(field: FieldDescriptor) -> Printer | None:
    cpp = field.cpp_type
    if cpp == F.CPPTYPE_MESSAGE:
        return compiled(field.message_type)
    if cpp == F.CPPTYPE_STRING and field.type == F.TYPE_STRING:
        return str
    if cpp == F.CPPTYPE_BOOL:
        return bool
    if cpp in _INT:
        return int
    if cpp in _INT64:
        return str
    if cpp == F.CPPTYPE_DOUBLE:
        return float_out
    if cpp == F.CPPTYPE_FLOAT:
        return float32_out
    return None  # enums, bytes: json_format prints them


def _present(v: Any) -> bool:
    """An implicit-presence scalar is listed (set) when its bits are not zero: -0.0 counts."""
    if type(v) is float:
        return v != 0.0 or math.copysign(1.0, v) < 0
    return bool(v)


def _key(k: Any) -> str:
    if type(k) is bool:
        return "true" if k else "false"
    return str(k)


def _print_fields(message: Message, steps: list[tuple[str, str, Printer]],
                  defaults: list[tuple[str, str, Any]]) -> dict[str, Any]:
    js: dict[str, Any] = {}
    for name, how, out in steps:  # the fields ListFields() lists, by number
        v = getattr(message, name)
        if how == "map":
            if v:
                js[name] = {_key(k): out(x) for k, x in v.items()}
        elif how == "list":
            if v:
                js[name] = [out(x) for x in v]
        elif how == "has":
            if message.HasField(name):
                js[name] = out(v)
        elif _present(v):
            js[name] = out(v)
    for name, how, default in defaults:  # then the unset ones without presence
        if name not in js:
            js[name] = {} if how == "map" else [] if how == "list" else default
    return js


_UNSUPPORTED: set[str] = set()


def compiled(desc: Descriptor) -> Printer | None:
    """The ``MessageToDict`` of one message type, compiled once (None: not supported here)."""
    done = _PRINTERS.get(desc.full_name)
    if done is not None or desc.full_name in _UNSUPPORTED:
        return done
    steps: list[tuple[str, str, Printer]] = []
    defaults: list[tuple[str, str, Any]] = []

    def printer(message: Message) -> dict[str, Any]:
        return _print_fields(message, steps, defaults)

    _PRINTERS[desc.full_name] = printer  # recursive types find it while it is being filled
    ok = desc.file.package != "google.protobuf"  # well-known types have their own JSON forms
    for field in sorted(desc.fields, key=lambda f: f.number) if ok else ():
        how = _how(field)
        out = _value_printer(field.message_type.fields_by_name["value"] if how == "map"
                             else field)
        if out is None:
            ok = False
            break
        steps.append((field.name, how, out))
    if not ok:
        del _PRINTERS[desc.full_name]
        _UNSUPPORTED.add(desc.full_name)
        return None
    for field in desc.fields:  # declaration order
        if not field.has_presence:
            how = _how(field)
            plain_default = None if how in ("map", "list") else steps_out(steps, field.name)(
                field.default_value)
            defaults.append((field.name, how, plain_default))
    return printer


def _how(field: FieldDescriptor) -> str:
    if _is_map(field):
        return "map"
    if field.is_repeated:
        return "list"
    return "has" if field.has_presence else "bits"


def steps_out(steps: list[tuple[str, str, Printer]], name: str) -> Printer:
    return next(out for n, _, out in steps if n == name)


def to_dict(message: Message) -> dict[str, Any]:
    """``MessageToDict(preserving_proto_field_name=True, always_print_fields_with_no_presence=
    True)``, compiled for this message type when it has no enum, bytes or well-known type."""
    printer = compiled(message.DESCRIPTOR)
    result: dict[str, Any] = (
        printer(message)
        if printer is not None
        else json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
    )
    return result
