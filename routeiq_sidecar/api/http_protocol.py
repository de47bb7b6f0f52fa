"""uvicorn's HTTP protocols (h11, and httptools when installed) with a header-read timeout.

uvicorn bounds the idle time between two requests of a keep-alive connection, but not the time a
client takes to send a request's headers: a client trickling one header byte every few seconds
keeps its connection (and a file descriptor) for ever, and any byte it sends cancels the
keep-alive timer. Here every request's headers must be complete within ``header_timeout_s`` of
the connection opening or of the previous response; otherwise the connection is closed. Body
reads are bounded by the REST layer (``body_timeout_s``), before a request is admitted.

``http_parser``: ``httptools`` (C, uvicorn's fast parser) when importable and asked for or
``auto``, else ``h11`` (pure Python). Both close slow headers the same way.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    _Base = H11Protocol
else:
    _Base = object


class _HeaderTimer(_Base):
    """The timer, for either protocol: armed when a connection opens and after each response,
    cancelled when a request's headers are complete (the subclass says when)."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        self._arm_header_timer()  # the next request's headers (a pipelined one cancels it)
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


class HeaderTimeoutH11(_HeaderTimer, H11Protocol):
    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers arrived: its cycle started
            self._cancel_header_timer()


def httptools_available() -> bool:
    return importlib.util.find_spec("httptools") is not None


def _httptools_class() -> type[Any]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutHttpTools(_HeaderTimer, HttpToolsProtocol):  # type: ignore[misc]
        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._cancel_header_timer()  # its cycle started (or a 400 was sent)

    return HeaderTimeoutHttpTools


def parser_name(http_parser: str) -> str:
    """The parser ``http_parser`` (auto, h11, httptools) resolves to on this install."""
    if http_parser == "auto":
        return "httptools" if httptools_available() else "h11"
    return http_parser


def protocol_class(header_timeout_s: float, http_parser: str = "auto") -> type[Any]:
    """A protocol class for ``uvicorn.Config(http=...)`` with this server's timeout."""
    base = _httptools_class() if parser_name(http_parser) == "httptools" else HeaderTimeoutH11
    return type(base.__name__, (base,), {"header_timeout_s": header_timeout_s})
