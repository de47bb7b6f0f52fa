"""Backpressure, drain, auth, CORS, hot reload: real servers on port 0, no timing assertions."""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from pathlib import Path

import grpc
import httpx
import pytest

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from tests.conftest import CHEAP, STRONG, make_settings, start_server_process, stop_server_process

ROUTE = {"prompt": "hello", "candidates": [CHEAP, STRONG]}


async def test_overload_sheds_with_429_then_recovers(tmp_path: Path, tiny_bundle) -> None:  # type: ignore[no-untyped-def]
    # A batcher that waits 300 ms for company keeps requests in flight long enough to pile up.
    sc = Sidecar(
        make_settings(
            tmp_path, max_in_flight=4, batch_wait_us=300_000, cors_origins=["https://ui.example"]
        ),
        bundle=tiny_bundle,
    )
    await sc.start()
    base = f"http://127.0.0.1:{sc.http_port}"
    try:
        async with httpx.AsyncClient(timeout=30) as c:
            rs = await asyncio.gather(
                *(
                    c.post(
                        f"{base}/v1/route",
                        json={**ROUTE, "prompt": f"p{i}"},
                        headers={"origin": "https://ui.example"},
                    )
                    for i in range(24)
                )
            )
            codes = [r.status_code for r in rs]
            shed = [r for r in rs if r.status_code == 429]
            after = [await c.post(f"{base}/v1/route", json=ROUTE) for _ in range(5)]
            metrics = (await c.get(f"{base}/metrics")).text
    finally:
        await sc.stop()
    assert set(codes) <= {200, 429} and codes.count(200) >= 4 and shed, codes
    for r in shed:
        assert r.headers["retry-after"] == "1" and r.headers["x-request-id"]
        assert r.headers["access-control-allow-origin"] == "https://ui.example"
        assert r.json()["error"]["code"] == "overloaded"
    assert all(r.status_code == 200 for r in after)
    assert f'routeiq_rejections_total{{reason="overloaded"}} {float(len(shed))}' in metrics


def test_sigterm_drains_in_flight_requests(tiny_bundle_path: Path, tmp_path: Path) -> None:
    sp = start_server_process(
        "--bundle",
        str(tiny_bundle_path),
        "--home",
        str(tmp_path),
        env={"ROUTEIQ_BATCH_WAIT_US": "1000000", "ROUTEIQ_DRAIN_GRACE_S": "20"},
    )

    async def scenario() -> tuple[list[int], int | None]:
        async with httpx.AsyncClient(timeout=30) as c:
            tasks = [
                asyncio.create_task(
                    c.post(f"{sp.http}/v1/route", json={**ROUTE, "prompt": f"q{i}"})
                )
                for i in range(6)
            ]
            while True:  # wait until the server holds them all
                m = (await c.get(f"{sp.http}/metrics")).text
                line = next(x for x in m.splitlines() if x.startswith("routeiq_in_flight "))
                if float(line.split()[1]) >= 6:
                    break
                await asyncio.sleep(0.02)
            sp.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            late: int | None
            try:
                late = (await c.post(f"{sp.http}/v1/route", json=ROUTE)).status_code
            except httpx.TransportError:
                late = None  # listener closed: refused cleanly
            return [r.status_code for r in await asyncio.gather(*tasks)], late

    codes, late = asyncio.run(scenario())
    assert codes == [200] * 6
    assert late in (None, 503)
    assert sp.proc.wait(30) == 0


async def test_bearer_token_on_rest_and_grpc(tmp_path: Path, tiny_bundle) -> None:  # type: ignore[no-untyped-def]
    sc = Sidecar(make_settings(tmp_path, auth_token="s3cret"), bundle=tiny_bundle)
    await sc.start()
    base = f"http://127.0.0.1:{sc.http_port}"
    try:
        async with httpx.AsyncClient() as c:
            no = await c.post(f"{base}/v1/route", json=ROUTE)
            wrong = await c.post(
                f"{base}/v1/route", json=ROUTE, headers={"authorization": "Bearer x"}
            )
            ok = await c.post(
                f"{base}/v1/route", json=ROUTE, headers={"authorization": "Bearer s3cret"}
            )
            open_ = [
                (await c.get(f"{base}{p}")).status_code
                for p in ("/healthz", "/readyz", "/metrics", "/openapi.json")
            ]
            info = await c.get(f"{base}/v1/info")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
            stub = pb_grpc.RouterServiceStub(ch)
            req = pb.RouteRequest(prompt="hi", candidates=[pb.Candidate(**CHEAP)])
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await stub.Route(req)
            good = await stub.Route(req, metadata=(("authorization", "Bearer s3cret"),))
    finally:
        await sc.stop()
    assert no.status_code == 401 and wrong.status_code == 401 and ok.status_code == 200
    assert no.headers["www-authenticate"] == "Bearer" and no.headers["x-request-id"]
    assert open_ == [200, 200, 200, 200] and info.status_code == 401
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED and good.selected_id == "cheap"


def test_open_non_loopback_bind_needs_explicit_setting(tmp_path: Path) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "routeiq_sidecar", "serve", "--http-host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "needs auth_token" in r.stderr


async def test_reload_swaps_good_bundles_and_refuses_tampered_ones(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    live = tmp_path / "live"
    shutil.copytree(tiny_bundle_path, live)
    sc = Sidecar(make_settings(tmp_path, bundle=live, reload_min_interval_s=0))
    await sc.start()
    base = f"http://127.0.0.1:{sc.http_port}"
    try:
        async with httpx.AsyncClient() as c:
            v1 = (await c.get(f"{base}/v1/info")).json()["bundle_name"]
            # a new, valid bundle in place -> admin reload picks it up
            shutil.rmtree(live)
            build_bundle(live, encoder="tiny-random", name="tiny-v2")
            r = await c.post(f"{base}/v1/admin/reload", json={})
            v2 = (await c.get(f"{base}/v1/info")).json()["bundle_name"]
            # tamper one file -> refused, old bundle keeps serving
            enc = live / "centroids.npz"
            data = bytearray(enc.read_bytes())
            data[len(data) // 2] ^= 0xFF
            enc.write_bytes(bytes(data))
            bad = await c.post(f"{base}/v1/admin/reload", json={})
            v3 = (await c.get(f"{base}/v1/info")).json()["bundle_name"]
            still = await c.post(f"{base}/v1/route", json=ROUTE)
            metrics = (await c.get(f"{base}/metrics")).text
    finally:
        await sc.stop()
    assert (
        r.status_code == 200
        and r.json()["reloaded"] is True
        and (v1, v2) == ("tiny-test", "tiny-v2")
    )
    assert bad.status_code == 409 and "centroids.npz" in bad.json()["detail"]
    assert v3 == v2 and still.status_code == 200
    assert 'routeiq_reloads_total{result="refused"} 1.0' in metrics


async def test_changed_manifest_is_picked_up_by_polling(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    live = tmp_path / "live"
    shutil.copytree(tiny_bundle_path, live)
    sc = Sidecar(make_settings(tmp_path, bundle=live, reload_poll_s=0.1))
    await sc.start()
    try:
        v1 = sc.engine.loaded.bundle.name
        staging = tmp_path / "staging"
        build_bundle(staging, encoder="tiny-random", name="tiny-v2")
        shutil.rmtree(live)
        staging.rename(live)
        deadline = time.monotonic() + 30
        while sc.engine.loaded.bundle.name == v1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert sc.engine.loaded.bundle.name == "tiny-v2"
    finally:
        await sc.stop()


def test_sighup_reloads(tiny_bundle_path: Path, tmp_path: Path) -> None:
    live = tmp_path / "live"
    shutil.copytree(tiny_bundle_path, live)
    sp = start_server_process("--bundle", str(live))
    try:
        v1 = httpx.get(f"{sp.http}/v1/info").json()["bundle_name"]
        shutil.rmtree(live)
        build_bundle(live, encoder="tiny-random", name="tiny-v2")
        sp.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        v2 = v1
        while v2 == v1 and time.monotonic() < deadline:
            time.sleep(0.1)
            v2 = httpx.get(f"{sp.http}/v1/info").json()["bundle_name"]
        assert (v1, v2) == ("tiny-test", "tiny-v2") and load_bundle(live).name == v2
    finally:
        stop_server_process(sp)
