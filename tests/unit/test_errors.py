"""The one domain error and its single mapping to HTTP statuses and gRPC codes."""

from __future__ import annotations

import grpc
import pytest

from routeiq_sidecar.errors import (
    BundleError,
    ErrorKind,
    RouteIQError,
    grpc_status,
    grpc_trailers,
    http_status,
    invalid,
)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_maps_to_http_and_grpc(kind: ErrorKind) -> None:
    err = RouteIQError(kind, "boom")
    status = http_status(err)
    assert isinstance(status, int) and 400 <= status <= 599
    code = grpc_status(err)
    assert isinstance(code, grpc.StatusCode)
    assert code is not grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        (ErrorKind.INVALID_ARGUMENT, 400, grpc.StatusCode.INVALID_ARGUMENT),
        (ErrorKind.NOT_FOUND, 404, grpc.StatusCode.NOT_FOUND),
        (ErrorKind.TOO_LARGE, 413, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (ErrorKind.OVERLOADED, 429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (ErrorKind.UNAVAILABLE, 503, grpc.StatusCode.UNAVAILABLE),
        (ErrorKind.UNAUTHENTICATED, 401, grpc.StatusCode.UNAUTHENTICATED),
        (ErrorKind.NO_ELIGIBLE_CANDIDATE, 422, grpc.StatusCode.FAILED_PRECONDITION),
        (ErrorKind.DEADLINE_EXCEEDED, 504, grpc.StatusCode.DEADLINE_EXCEEDED),
        (ErrorKind.INTERNAL, 500, grpc.StatusCode.INTERNAL),
    ],
)
def test_documented_mapping(kind: ErrorKind, status: int, code: grpc.StatusCode) -> None:
    err = RouteIQError(kind, "x")
    assert http_status(err) == status
    assert grpc_status(err) == code


def test_invalid_message_starts_with_field() -> None:
    err = invalid("candidates[2].input_cost_per_mtok", "must be a finite number >= 0, got -1.0")
    assert err.kind is ErrorKind.INVALID_ARGUMENT
    assert err.field == "candidates[2].input_cost_per_mtok"
    assert str(err).startswith("candidates[2].input_cost_per_mtok: ")
    assert err.message == str(err)
    assert http_status(err) == 400
    assert err.to_dict() == {
        "code": "invalid_argument",
        "message": "candidates[2].input_cost_per_mtok: must be a finite number >= 0, got -1.0",
        "field": "candidates[2].input_cost_per_mtok",
    }


def test_to_dict_without_field() -> None:
    err = RouteIQError(ErrorKind.OVERLOADED, "queue full")
    assert err.field is None
    assert err.to_dict() == {"code": "overloaded", "message": "queue full"}


def test_bundle_error_is_a_route_error() -> None:
    err = BundleError("bundle /x: file a is missing")
    assert isinstance(err, RouteIQError)
    assert err.kind is ErrorKind.BUNDLE_INVALID
    assert str(err) == "bundle /x: file a is missing"
    assert http_status(err) == 400
    assert grpc_status(err) == grpc.StatusCode.FAILED_PRECONDITION


def test_grpc_trailers_carry_the_request_id_and_retry_pushback() -> None:
    shed = RouteIQError(ErrorKind.OVERLOADED, "full", retry_after_s=2)
    assert grpc_trailers(shed, "r1") == (("x-request-id", "r1"), ("grpc-retry-pushback-ms", "2000"))
    bad = RouteIQError(ErrorKind.INVALID_ARGUMENT, "no")
    assert grpc_trailers(bad, "r2") == (("x-request-id", "r2"),)  # retrying would not help
