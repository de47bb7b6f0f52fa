"""Drain guard: an abort ends running calls with UNAVAILABLE, other timeouts pass through."""

from __future__ import annotations

import asyncio
import time

import pytest

from routeiq_sidecar.api.drain import Drain, reserve_s
from routeiq_sidecar.errors import ErrorKind, RouteIQError


async def test_abort_ends_running_calls_with_unavailable() -> None:
    drain = Drain()
    entered = asyncio.Event()

    async def call() -> None:
        async with drain.guard():
            entered.set()
            await asyncio.Event().wait()  # would run forever

    task = asyncio.create_task(call())
    await entered.wait()
    assert drain.running == 1
    assert drain.abort() == 1
    with pytest.raises(RouteIQError) as err:
        await task
    assert err.value.kind is ErrorKind.UNAVAILABLE and err.value.retry_after_s == 1
    assert drain.running == 0 and drain.aborted == 1


async def test_a_timeout_of_the_call_itself_is_not_an_abort() -> None:
    drain = Drain()
    with pytest.raises(TimeoutError):
        async with drain.guard():
            async with asyncio.timeout(0):
                await asyncio.sleep(1)
    assert drain.running == 0 and drain.aborted == 0


async def test_settle_reports_calls_still_running_at_the_limit() -> None:
    drain = Drain()
    entered = asyncio.Event()

    async def call() -> None:
        async with drain.guard():
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(call())
    await entered.wait()
    assert await drain.settle(until=time.monotonic()) is False
    drain.abort()
    with pytest.raises(RouteIQError):
        await task
    assert await drain.settle(until=time.monotonic(), quiet_s=0) is True


def test_reserve_is_a_quarter_of_the_grace_at_most_two_seconds() -> None:
    assert reserve_s(0) == 0 and reserve_s(2) == 0.5 and reserve_s(60) == 2.0
