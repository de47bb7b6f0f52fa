"""SIGTERM races on a real server process (port 0, real signals): calls already running finish,
calls not yet started get UNAVAILABLE / 503 with a retry hint, none is CANCELLED, cut off or
answered plain-text 500, and the process exits within ``drain_grace_s``. Bounded in count and
time; the only clock in an assertion is an upper bound on the exit, found by polling."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import grpc
import httpx

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from tests.conftest import CHEAP, STRONG, ServerProcess, start_server_process, stop_server_process

RestOutcome = tuple[str, httpx.Response | None]  # status (or transport error) and answer
EXIT_MARGIN_S = 5.0  # interpreter start-up aside, exit must come within the grace plus this


def serve(bundle: Path, home: Path, **env: str) -> ServerProcess:
    return start_server_process(
        "--bundle", str(bundle), "--home", str(home), env={"ROUTEIQ_LOG_DECISIONS": "false", **env}
    )


def exit_code_within(sp: ServerProcess, signalled: float, bound_s: float) -> int | None:
    """The exit code if the process exits within ``bound_s`` of the signal, else None."""
    while time.monotonic() - signalled < bound_s:
        if sp.proc.poll() is not None:
            return sp.proc.returncode
        time.sleep(0.05)
    return sp.proc.poll()


def route_request(i: int) -> pb.RouteRequest:
    return pb.RouteRequest(
        prompt=f"question number {i}: " + "explain this in detail " * 10,
        candidates=[pb.Candidate(**CHEAP), pb.Candidate(**STRONG)],
    )


async def grpc_call(stub: pb_grpc.RouterServiceStub, i: int) -> tuple[str, dict[str, str]]:
    call = stub.Route(route_request(i), timeout=60)
    try:
        await call
        return "OK", {}
    except grpc.aio.AioRpcError as err:
        trailers = {k: v for k, v in (err.trailing_metadata() or ()) if isinstance(v, str)}
        return err.code().name, trailers


async def rest_call(c: httpx.AsyncClient, base: str, i: int) -> RestOutcome:
    body = {"prompt": f"question number {i}: " + "explain this " * 10, "candidates": [CHEAP]}
    try:
        r = await c.post(f"{base}/v1/route", json=body)
    except httpx.HTTPError as err:
        return type(err).__name__, None  # a call cut off: lost
    return str(r.status_code), r


async def in_flight(c: httpx.AsyncClient, base: str) -> float:
    text = (await c.get(f"{base}/metrics")).text
    return float(
        next(x for x in text.splitlines() if x.startswith("routeiq_in_flight ")).split()[1]
    )


async def grpc_race(sp: ServerProcess, n: int) -> tuple[list[tuple[str, dict[str, str]]], float]:
    """``n`` Route calls, SIGTERM 150 ms later; their outcomes and when the signal went."""
    async with grpc.aio.insecure_channel(sp.grpc) as ch:
        await ch.channel_ready()
        stub = pb_grpc.RouterServiceStub(ch)
        calls = [asyncio.create_task(grpc_call(stub, i)) for i in range(n)]
        await asyncio.sleep(0.15)
        sp.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        return await asyncio.gather(*calls), signalled


async def rest_race(sp: ServerProcess, n: int) -> tuple[list[RestOutcome], float]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:
        calls = [asyncio.create_task(rest_call(c, sp.http, i)) for i in range(n)]
        await asyncio.sleep(0.15)
        sp.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        return await asyncio.gather(*calls), signalled


def check_unavailable(code: str, trailers: dict[str, str]) -> None:
    if code == "UNAVAILABLE":
        assert trailers.get("x-request-id"), trailers
        assert trailers.get("grpc-retry-pushback-ms") == "1000", trailers


def check_503(r: httpx.Response) -> None:
    assert r.headers["retry-after"] == "1" and r.headers["x-request-id"], r.headers
    assert r.json()["error"]["code"] == "unavailable", r.text


def test_sigterm_150ms_after_grpc_calls_cancels_none(
    tiny_bundle_path: Path, tmp_path: Path
) -> None:
    """20 calls (the reported race) twice, then 100: a busy server holds calls gRPC core has
    accepted but the application not yet picked up, the ones closing at once cancelled."""
    grace = 10.0
    totals: Counter[str] = Counter()
    sizes = (20, 20, 100)
    for rep, n in enumerate(sizes):
        sp = serve(tiny_bundle_path, tmp_path / f"g{rep}", ROUTEIQ_DRAIN_GRACE_S=str(grace))
        try:
            outcomes, signalled = asyncio.run(grpc_race(sp, n))
            rc = exit_code_within(sp, signalled, grace + EXIT_MARGIN_S)
        finally:
            stop_server_process(sp)
        codes = Counter(code for code, _ in outcomes)
        totals.update(codes)
        assert set(codes) <= {"OK", "UNAVAILABLE"}, (rep, codes)
        for code, trailers in outcomes:
            check_unavailable(code, trailers)
        assert rc == 0, (rep, rc, "".join(sp.lines[-20:]))
    assert sum(totals.values()) == sum(sizes), totals


def test_sigterm_150ms_after_50_rest_calls_loses_none(
    tiny_bundle_path: Path, tmp_path: Path
) -> None:
    grace = 10.0
    totals: Counter[str] = Counter()
    for rep in range(2):
        sp = serve(tiny_bundle_path, tmp_path / f"r{rep}", ROUTEIQ_DRAIN_GRACE_S=str(grace))
        try:
            outcomes, signalled = asyncio.run(rest_race(sp, 50))
            rc = exit_code_within(sp, signalled, grace + EXIT_MARGIN_S)
        finally:
            stop_server_process(sp)
        codes = Counter(code for code, _ in outcomes)
        totals.update(codes)
        assert set(codes) <= {"200", "503"}, (rep, codes)
        for code, r in outcomes:
            if code == "503" and r is not None:
                check_503(r)
        assert rc == 0, (rep, rc, "".join(sp.lines[-20:]))
    assert sum(totals.values()) == 100, totals


def test_calls_still_running_when_the_grace_ends_get_a_retryable_answer(
    tiny_bundle_path: Path, tmp_path: Path
) -> None:
    """A batch that waits 2 s for company outlives a 1 s grace: its callers are answered
    UNAVAILABLE / 503 + Retry-After before the exit, not CANCELLED or plain-text 500."""
    grace = 1.0
    sp = serve(
        tiny_bundle_path,
        tmp_path,
        ROUTEIQ_DRAIN_GRACE_S=str(grace),
        ROUTEIQ_BATCH_WAIT_US="2000000",
        ROUTEIQ_MAX_BATCH_SIZE="64",
    )
    try:

        async def scenario() -> tuple[
            list[tuple[str, dict[str, str]]], list[tuple[str, httpx.Response | None]], float
        ]:
            async with (
                httpx.AsyncClient(timeout=60) as c,
                grpc.aio.insecure_channel(sp.grpc) as ch,
            ):
                stub = pb_grpc.RouterServiceStub(ch)
                g = [asyncio.create_task(grpc_call(stub, i)) for i in range(6)]
                r = [asyncio.create_task(rest_call(c, sp.http, 100 + i)) for i in range(6)]
                while await in_flight(c, sp.http) < 12:  # the server holds them all
                    await asyncio.sleep(0.02)
                sp.proc.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                return await asyncio.gather(*g), await asyncio.gather(*r), signalled

        g_out, r_out, signalled = asyncio.run(scenario())
        rc = exit_code_within(sp, signalled, grace + EXIT_MARGIN_S)
    finally:
        stop_server_process(sp)
    g_codes = Counter(code for code, _ in g_out)
    r_codes = Counter(code for code, _ in r_out)
    assert set(g_codes) <= {"OK", "UNAVAILABLE"} and set(r_codes) <= {"200", "503"}, (
        g_codes,
        r_codes,
    )
    for code, trailers in g_out:
        check_unavailable(code, trailers)
    for code, resp in r_out:
        if code == "503":
            assert resp is not None
            check_503(resp)
    assert g_codes["UNAVAILABLE"] + r_codes["503"] > 0, (g_codes, r_codes)
    assert any("still running answered UNAVAILABLE" in line for line in sp.lines)
    assert rc == 0, (rc, "".join(sp.lines[-20:]))
