"""The OpenAPI document is generated from the proto descriptors."""

from __future__ import annotations

import json

from google.protobuf.descriptor import FieldDescriptor

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api.openapi import openapi_document


def test_route_request_has_every_proto_field() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    props = schemas["RouteRequest"]["properties"]
    proto_fields = [f.name for f in pb.RouteRequest.DESCRIPTOR.fields]
    assert list(props) == proto_fields
    assert schemas["RouteRequest"]["additionalProperties"] is False


def test_every_message_schema_matches_its_descriptor() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for name, schema in schemas.items():
        if name == "Error":
            continue
        desc = pb.DESCRIPTOR.message_types_by_name[name]
        assert set(schema["properties"]) == {f.name for f in desc.fields}, name


def test_field_types() -> None:
    schemas = openapi_document()["components"]["schemas"]
    req = schemas["RouteRequest"]["properties"]
    assert req["prompt"] == {"type": "string"}
    assert req["deadline_ms"]["type"] == "integer"
    assert req["max_cost_per_mtok"] == {"type": "number", "minimum": 0}
    assert req["messages"] == {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}
    assert req["candidates"]["items"] == {"$ref": "#/components/schemas/Candidate"}
    assert req["required_capabilities"] == {"type": "array", "items": {"type": "string"}}
    assert req["metadata"] == {
        "type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 64
    }
    cand = schemas["Candidate"]["properties"]
    assert cand["labels"]["type"] == "object"
    assert cand["quality_prior"] == {"type": "number", "minimum": 0, "maximum": 1}
    resp = schemas["RouteResponse"]["properties"]
    assert "lambda" in resp
    assert resp["signals"] == {"$ref": "#/components/schemas/Signals"}
    sig = schemas["Signals"]["properties"]
    assert sig["category_scores"]["additionalProperties"] == {"type": "number"}


def test_every_ref_resolves() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                refs.append(ref)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_paths_and_json_serialisable() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    route = doc["paths"]["/v1/route"]["post"]
    assert route["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RouteRequest"
    }
    assert {"200", "400", "422"} <= set(route["responses"])
    for path in ("/v1/feedback", "/v1/classify", "/v1/info", "/healthz", "/readyz", "/metrics"):
        assert path in doc["paths"]
    json.dumps(doc)


def test_all_field_types_covered() -> None:
    """Adding a proto field of a new scalar type must extend the generator, not crash it."""
    used = {f.type for m in pb.DESCRIPTOR.message_types_by_name.values() for f in m.fields}
    assert FieldDescriptor.TYPE_MESSAGE in used
    openapi_document()  # raises KeyError on an unmapped scalar type
