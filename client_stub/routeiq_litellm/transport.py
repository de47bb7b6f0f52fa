"""How the stub talks to the sidecar: one small interface, an HTTP and a gRPC implementation.

Clients are created once and reused (connection pooling). Sync calls share one client; async
calls get one client per event loop, because pooled connections belong to the loop that opened
them (LiteLLM's proxy has one loop; SDK users and test suites may run several).
Every failure surfaces as ``TransportError`` carrying the ``Outcome`` the stub counts.

A call that must open its client's connection first (the first call on an event loop, or
after ``close``) gets ``connect_timeout_s`` on top of the decision timeout, so a cold start is
not mistaken for a slow sidecar; ``warm()`` opens the sync connection ahead of the first call.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx

from routeiq_litellm.stats import Outcome

DEFAULT_HTTP_URL = "http://127.0.0.1:8080"
DEFAULT_GRPC_TARGET = "127.0.0.1:50051"
# Headers and body leave in separate writes: without TCP_NODELAY, Nagle's algorithm meets the
# peer's delayed ACK and a localhost round trip takes ~40 ms instead of ~1 ms.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class TransportError(Exception):
    """A call to the sidecar that gave no usable answer; ``outcome`` says why."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Decision:
    """The part of a ``RouteResponse`` the stub acts on."""

    decision_id: str
    selected_id: str
    selected_model: str = ""
    strategy: str = ""
    reason: str = ""
    degraded: bool = False
    total_us: int = 0
    ranking: tuple[str, ...] = ()  # eligible candidate ids, best first

    def top(self, k: int) -> list[str]:
        """The selected id, then the next best eligible ones: ``k`` ids at most."""
        out = [self.selected_id]
        out.extend(c for c in self.ranking if c != self.selected_id)
        return out[: max(1, k)]

    @classmethod
    def from_json(cls, data: Any) -> Decision:
        if not isinstance(data, dict) or not isinstance(data.get("selected_id"), str):
            raise TransportError(Outcome.BAD_ANSWER, "answer has no selected_id")
        timings = data.get("timings") or {}
        ranking = data.get("ranking") or []
        return cls(
            decision_id=str(data.get("decision_id") or ""),
            selected_id=data["selected_id"],
            selected_model=str(data.get("selected_model") or ""),
            strategy=str(data.get("strategy") or ""),
            reason=str(data.get("reason") or ""),
            degraded=bool(data.get("degraded")),
            total_us=int(timings.get("total_us") or 0) if isinstance(timings, dict) else 0,
            ranking=tuple(
                str(r["candidate_id"])
                for r in (ranking if isinstance(ranking, list) else [])
                if isinstance(r, dict) and r.get("candidate_id") and r.get("eligible", True)
            ),
        )


class Transport(Protocol):
    def route(self, body: dict[str, Any], timeout_s: float) -> Decision: ...

    async def aroute(self, body: dict[str, Any], timeout_s: float) -> Decision: ...

    def feedback(self, body: dict[str, Any], timeout_s: float) -> bool:
        """Post feedback; True if the sidecar took it (also for a duplicate), False on 404."""
        ...

    def warm(self, timeout_s: float) -> bool:
        """Open the sync connection now; True if the sidecar answered."""
        ...

    def close(self) -> None: ...


C = TypeVar("C")
DEFAULT_CONNECT_TIMEOUT_S = 1.0


class PerLoop(Generic[C]):
    """One lazily created object per running event loop, dropped with its loop."""

    def __init__(self, factory: Callable[[], C]) -> None:
        self._factory = factory
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> C:
        return self.get_fresh()[0]

    def get_fresh(self) -> tuple[C, bool]:
        """The running loop's object, and whether it was created by this call."""
        loop = asyncio.get_running_loop()
        item = self._items.get(loop)
        if item is None:
            item = self._items[loop] = self._factory()
            return item, True
        return item, False

    def pop(self) -> C | None:
        """Remove and return the running loop's object, if it has one."""
        return self._items.pop(asyncio.get_running_loop(), None)


def _status_outcome(status: int) -> Outcome:
    if status in (408, 429) or status >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.REJECTED


class HttpTransport:
    """REST: ``POST /v1/route`` and ``POST /v1/feedback`` with keep-alive connections."""

    def __init__(self, url: str = DEFAULT_HTTP_URL, api_key: str | None = None,
                 max_connections: int = 100,
                 connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.connect_timeout_s = connect_timeout_s
        self._headers = {"content-type": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._lock = threading.Lock()
        self._sync: httpx.Client | None = None
        self._async: PerLoop[httpx.AsyncClient] = PerLoop(self._new_async)

    def _new_async(self) -> httpx.AsyncClient:
        pool = httpx.AsyncHTTPTransport(limits=self._limits, socket_options=NODELAY)
        return httpx.AsyncClient(base_url=self.url, headers=self._headers, transport=pool)

    def _client(self) -> tuple[httpx.Client, bool]:
        fresh = False
        if self._sync is None:
            with self._lock:
                if self._sync is None:
                    pool = httpx.HTTPTransport(limits=self._limits, socket_options=NODELAY)
                    self._sync = httpx.Client(
                        base_url=self.url, headers=self._headers, transport=pool
                    )
                    fresh = True
        return self._sync, fresh

    def warm(self, timeout_s: float) -> bool:
        client, _ = self._client()
        try:
            return client.get("/healthz", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    @staticmethod
    def _answer(resp: httpx.Response) -> Any:
        if resp.status_code != 200:
            raise TransportError(
                _status_outcome(resp.status_code), f"HTTP {resp.status_code}: {resp.text[:200]}"
            )
        try:
            return resp.json()
        except ValueError as exc:
            raise TransportError(Outcome.BAD_ANSWER, f"answer is not JSON: {exc}") from None

    def route(self, body: dict[str, Any], timeout_s: float) -> Decision:
        client, fresh = self._client()
        if fresh:
            timeout_s += self.connect_timeout_s
        try:
            resp = client.post("/v1/route", json=body, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise TransportError(Outcome.TIMEOUT, f"timeout: {exc!r}") from None
        except httpx.TransportError as exc:
            raise TransportError(Outcome.UNREACHABLE, f"unreachable: {exc!r}") from None
        return Decision.from_json(self._answer(resp))

    async def aroute(self, body: dict[str, Any], timeout_s: float) -> Decision:
        client, fresh = self._async.get_fresh()
        if fresh:
            timeout_s += self.connect_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                resp = await client.post("/v1/route", json=body, timeout=timeout_s)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise TransportError(Outcome.TIMEOUT, f"timeout: {exc!r}") from None
        except httpx.TransportError as exc:
            raise TransportError(Outcome.UNREACHABLE, f"unreachable: {exc!r}") from None
        return Decision.from_json(self._answer(resp))

    def feedback(self, body: dict[str, Any], timeout_s: float) -> bool:
        try:
            resp = self._client()[0].post("/v1/feedback", json=body, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise TransportError(Outcome.TIMEOUT, f"timeout: {exc!r}") from None
        except httpx.TransportError as exc:
            raise TransportError(Outcome.UNREACHABLE, f"unreachable: {exc!r}") from None
        if resp.status_code == 404:
            return False
        self._answer(resp)
        return True

    def close(self) -> None:
        """Close the sync client; async clients close with their loops (or ``aclose``)."""
        with self._lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None

    async def aclose(self) -> None:
        """Close the running loop's async client."""
        client = self._async.pop()
        if client is not None:
            await client.aclose()


def make_transport(
    transport: str,
    url: str | None,
    api_key: str | None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> Transport:
    """``http`` (default) or ``grpc``; the gRPC one needs ``pip install routeiq-litellm[grpc]``."""
    if transport == "http":
        return HttpTransport(
            url or DEFAULT_HTTP_URL, api_key=api_key, connect_timeout_s=connect_timeout_s
        )
    if transport == "grpc":
        from routeiq_litellm.grpc_transport import GrpcTransport

        return GrpcTransport(
            url or DEFAULT_GRPC_TARGET, api_key=api_key, connect_timeout_s=connect_timeout_s
        )
    raise ValueError(f"transport must be 'http' or 'grpc', got {transport!r}")
