"""OpenAPI 3.1 document generated from the proto descriptors, so REST and gRPC share one schema."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from routeiq_sidecar import __version__
from routeiq_sidecar import limits as lim
from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_INT64: {"type": ["string", "integer"], "format": "int64"},
}


def _field_schema(f: FieldDescriptor, defs: dict[str, Any]) -> dict[str, Any]:
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        value = f.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _field_schema(value, defs)}
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        _message_schema(f.message_type, defs)
        item: dict[str, Any] = {"$ref": f"#/components/schemas/{f.message_type.name}"}
    else:
        item = dict(_SCALARS[f.type])
    if f.is_repeated:
        return {"type": "array", "items": item}
    return item


_ID = {"maxLength": lim.MAX_ID_CHARS}
_MAP = {"maxProperties": lim.MAX_MAP_ENTRIES}
_PRICE = {"minimum": 0, "maximum": lim.MAX_PRICE_PER_MTOK}
# What the server checks beyond the proto types (engine/validate.py, limits.py), so a client
# generated from this document sends what the server accepts.
_FIELD_RULES: dict[str, dict[str, dict[str, Any]]] = {
    "RouteRequest": {
        "request_id": {"maxLength": lim.MAX_REQUEST_ID_CHARS},
        **{f: _ID for f in ("model_group", "session_id", "user_id", "strategy", "profile")},
        "metadata": _MAP,
        "quality_cost_tradeoff": {"minimum": 0, "maximum": lim.MAX_TRADEOFF},
        "max_cost_per_mtok": {"minimum": 0},
        "deadline_ms": {"minimum": 0},
    },
    "ClassifyRequest": {"request_id": {"maxLength": lim.MAX_REQUEST_ID_CHARS}},
    "Candidate": {
        "id": {"minLength": 1, **_ID},
        "model": _ID,
        "labels": _MAP,
        "input_cost_per_mtok": _PRICE,
        "output_cost_per_mtok": _PRICE,
        "quality_prior": {"minimum": 0, "maximum": 1},
        "max_input_tokens": {"minimum": 0},
    },
    "Message": {"name": {"maxLength": lim.MAX_NAME_CHARS}},
    "FeedbackRequest": {
        "decision_id": {"minLength": 1, "maxLength": lim.MAX_REQUEST_ID_CHARS},
        "score": {"minimum": 0, "maximum": 1},
        "latency_ms": {"minimum": 0, "maximum": lim.MAX_LATENCY_MS},
        "cost_usd": {"minimum": 0, "maximum": lim.MAX_COST_USD},
        "error": {"maxLength": lim.MAX_ERROR_CHARS},
    },
}
_TEXT_REQUIRED = [  # some text to route: non-empty messages, or a prompt
    {"required": ["messages"], "properties": {"messages": {"minItems": 1}}},
    {"required": ["prompt"], "properties": {"prompt": {"minLength": 1}}},
]
_MESSAGE_RULES: dict[str, dict[str, Any]] = {
    "RouteRequest": {"anyOf": _TEXT_REQUIRED},
    "ClassifyRequest": {"anyOf": _TEXT_REQUIRED},
    "FeedbackRequest": {
        "required": ["decision_id"],
        "anyOf": [{"required": ["score"]}, {"required": ["success"]}],
    },
}


def _message_schema(d: Descriptor, defs: dict[str, Any]) -> None:
    if d.name in defs:
        return
    defs[d.name] = {}  # break recursion
    rules = _FIELD_RULES.get(d.name, {})
    props = {f.name: {**_field_schema(f, defs), **rules.get(f.name, {})} for f in d.fields}
    defs[d.name] = {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        **_MESSAGE_RULES.get(d.name, {}),
    }


def _op(summary: str, req: str | None, resp: str, errors: tuple[int, ...]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{resp}"}}
                },
            },
            **{
                str(c): {
                    "description": "Error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for c in errors
            },
        },
    }
    if req:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{req}"}}},
        }
    return op


def openapi_document() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for name in (
        "RouteRequest",
        "RouteResponse",
        "FeedbackRequest",
        "FeedbackResponse",
        "ClassifyRequest",
        "ClassifyResponse",
        "GetInfoResponse",
    ):
        _message_schema(pb.DESCRIPTOR.message_types_by_name[name], defs)
    defs["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    }
    route = _op(
        "Choose a deployment",
        "RouteRequest",
        "RouteResponse",
        (400, 403, 408, 413, 415, 422, 429, 503),
    )
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "RouteIQ sidecar", "version": __version__},
        "paths": {
            "/v1/route": {"post": route},
            "/route": {"post": route},
            "/v1/feedback": {
                "post": _op(
                    "Outcome of a decision",
                    "FeedbackRequest",
                    "FeedbackResponse",
                    (400, 403, 404, 408, 413, 415, 429, 503),
                )
            },
            "/v1/classify": {
                "post": _op(
                    "Signals only",
                    "ClassifyRequest",
                    "ClassifyResponse",
                    (400, 403, 408, 413, 415, 429, 503),
                )
            },
            "/v1/info": {"get": _op("Bundle, strategies, settings", None, "GetInfoResponse", ())},
            "/healthz": {
                "get": {
                    "summary": "Alive",
                    "responses": {"200": {"description": "alive", "content": text}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Ready (bundle loaded, not draining)",
                    "responses": {
                        "200": {"description": "ready", "content": text},
                        "503": {"description": "not ready", "content": text},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "metrics", "content": text}},
                }
            },
        },
        "components": {"schemas": defs},
    }
