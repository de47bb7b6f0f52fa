"""OpenAPI 3.1 document generated from the proto descriptors, so REST and gRPC share one schema."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from routeiq_sidecar import __version__
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


def _message_schema(d: Descriptor, defs: dict[str, Any]) -> None:
    if d.name in defs:
        return
    defs[d.name] = {}  # break recursion
    props = {f.name: _field_schema(f, defs) for f in d.fields}
    defs[d.name] = {"type": "object", "properties": props, "additionalProperties": False}


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
    route = _op("Choose a deployment", "RouteRequest", "RouteResponse", (400, 413, 422, 429, 503))
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
                    (400, 404, 413, 429, 503),
                )
            },
            "/v1/classify": {
                "post": _op(
                    "Signals only", "ClassifyRequest", "ClassifyResponse", (400, 413, 429, 503)
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
