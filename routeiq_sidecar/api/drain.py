"""What happens between SIGTERM and exit, all within ``drain_grace_s`` of the signal.

1. **refuse**: the pipeline answers new calls ``UNAVAILABLE`` / 503 with a retry hint while both
   listeners stay open. Closing at once would cut off calls already sent: gRPC core cancels the
   calls it holds that the application has not picked up yet (``CANCELLED``, which clients do
   not retry), and uvicorn drops requests still in a socket buffer.
2. **settle**: wait until no call is running and none arrived for ``QUIET_S``.
3. **abort**: if calls still run when only the reserve of the grace is left, they are answered
   ``UNAVAILABLE`` / 503 (rather than cancelled by gRPC or answered plain-text 500 by uvicorn).
4. **close**: stop the listeners, the engine and the exporters in what is left.

Every API call runs inside :meth:`Drain.guard`, which counts it and makes step 3 possible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from routeiq_sidecar.errors import ErrorKind, RouteIQError

QUIET_S = 0.25  # no arrival for this long (and nothing running): every sent call was answered
POLL_S = 0.02
RESERVE_SHARE, RESERVE_MAX_S = 0.25, 2.0  # of the grace kept for step 4
RETRY_AFTER_S = 1
MIN_CLOSE_S = 0.5  # the least time given to answers and closing, even past a tiny grace


def reserve_s(grace_s: float) -> float:
    """The part of the grace kept for closing: a quarter, at most two seconds."""
    return min(RESERVE_MAX_S, grace_s * RESERVE_SHARE)


class Drain:
    """Counts the calls being served, notes arrivals, and can end them all with UNAVAILABLE."""

    def __init__(self) -> None:
        self._running: set[asyncio.Timeout] = set()
        self.last_arrival = time.monotonic()
        self.aborted = 0

    def begin(self) -> None:
        """Drain starts: count the quiet from now (calls sent just before may not have arrived)."""
        self.last_arrival = time.monotonic()

    @property
    def running(self) -> int:
        return len(self._running)

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """One call: raises ``UNAVAILABLE`` in it when :meth:`abort` ends it."""
        self.last_arrival = time.monotonic()
        tm = asyncio.timeout(None)
        try:
            async with tm:
                self._running.add(tm)
                try:
                    yield
                finally:
                    self._running.discard(tm)
        except TimeoutError:
            if not tm.expired():
                raise  # someone else's timeout
            raise RouteIQError(
                ErrorKind.UNAVAILABLE,
                "server is shutting down (drain_grace_s ending) and did not finish this call; "
                "retry on another replica",
                retry_after_s=RETRY_AFTER_S,
            ) from None

    async def settle(self, until: float, quiet_s: float = QUIET_S) -> bool:
        """Wait (to monotonic time ``until`` at most) for no call running and none arriving
        for ``quiet_s``; False when calls still run at ``until``."""
        while True:
            now = time.monotonic()
            if not self._running and now - self.last_arrival >= quiet_s:
                return True
            if now >= until:
                return not self._running
            await asyncio.sleep(min(POLL_S, max(0.0, until - now)))

    def abort(self) -> int:
        """End every running call with ``UNAVAILABLE``; the number of calls ended."""
        now = asyncio.get_running_loop().time()
        ended = 0
        for tm in list(self._running):
            if not tm.expired():
                tm.reschedule(now)
                ended += 1
        self.aborted += ended
        return ended
