"""Domain errors: the one error type of the sidecar, and the only place mapping it to HTTP and gRPC.

Transports catch :class:`RouteIQError` and call :func:`http_status` / :func:`grpc_status`
(and :func:`grpc_trailers` for the request id and retry pushback); nothing else in the package
knows about status codes.
"""

from __future__ import annotations

import enum

import grpc


class ErrorKind(enum.Enum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    TOO_LARGE = "too_large"
    OVERLOADED = "overloaded"
    UNAVAILABLE = "unavailable"
    UNAUTHENTICATED = "unauthenticated"
    NO_ELIGIBLE_CANDIDATE = "no_eligible_candidate"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    BUNDLE_INVALID = "bundle_invalid"
    REQUEST_TIMEOUT = "request_timeout"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    FORBIDDEN = "forbidden"
    INTERNAL = "internal"


_HTTP: dict[ErrorKind, int] = {
    ErrorKind.INVALID_ARGUMENT: 400,
    ErrorKind.NO_ELIGIBLE_CANDIDATE: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.OVERLOADED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.DEADLINE_EXCEEDED: 504,
    ErrorKind.BUNDLE_INVALID: 400,
    ErrorKind.REQUEST_TIMEOUT: 408,
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.INTERNAL: 500,
}

_GRPC: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.NO_ELIGIBLE_CANDIDATE: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.OVERLOADED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorKind.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorKind.BUNDLE_INVALID: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorKind.REQUEST_TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorKind.UNSUPPORTED_MEDIA_TYPE: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}


class RouteIQError(Exception):
    """A failure the caller can act on; ``field`` names the offending input when there is one."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        field: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field
        self.retry_after_s = retry_after_s

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.kind.value, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body

    def __str__(self) -> str:
        return self.message


def invalid(field: str, message: str) -> RouteIQError:
    """An INVALID_ARGUMENT error whose message starts with the field's name."""
    return RouteIQError(ErrorKind.INVALID_ARGUMENT, f"{field}: {message}", field=field)


class BundleError(RouteIQError):
    """A bundle that is missing, malformed or does not match its manifest."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.BUNDLE_INVALID, message)


def http_status(err: RouteIQError) -> int:
    return _HTTP[err.kind]


def grpc_trailers(err: RouteIQError, request_id: str) -> tuple[tuple[str, str], ...]:
    """Trailing metadata of a gRPC error: the request id and, when the caller may retry after
    a wait, ``grpc-retry-pushback-ms`` (gRFC A6: a client's retry policy waits that long)."""
    md: tuple[tuple[str, str], ...] = (("x-request-id", request_id),)
    if err.retry_after_s:
        md += (("grpc-retry-pushback-ms", str(int(err.retry_after_s * 1000))),)
    return md


def grpc_status(err: RouteIQError) -> grpc.StatusCode:
    return _GRPC[err.kind]
