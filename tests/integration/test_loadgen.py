"""The load generators of bench/latency.py against a real in-process server (tiny bundle)."""

from __future__ import annotations

from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.loadtest.loadgen import run_grpc, run_rest, run_rest_raw, with_candidates
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests


async def test_raw_rest_client_matches_httpx_answers(sidecar: Sidecar) -> None:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(24, seed=3)]
    base = f"http://127.0.0.1:{sidecar.http_port}"
    raw = await run_rest_raw(base, bodies, concurrency=3, max_seconds=120)
    ref = await run_rest(base, bodies, concurrency=3, max_seconds=120)
    for res in (raw, ref):
        s = res.summary()
        assert s["ok"] == 24 and s["errors"] == 0, s["statuses"]
        assert len(res.escalated) == 24 and not any(res.escalated)  # one encoder: no cascade
        assert all(us > 0 for us in res.server_total_us)


async def test_raw_rest_client_counts_refusals_and_keeps_its_connection(sidecar: Sidecar) -> None:
    bodies = [{"prompt": "hi", "candidates": []}, {"prompt": "hi", "bogus": 1}]
    bodies += [with_candidates({"prompt": "hello"}, CANDIDATES)]
    res = await run_rest_raw(
        f"http://127.0.0.1:{sidecar.http_port}", bodies, concurrency=1, max_seconds=120
    )
    assert res.statuses == {"400": 2, "ok": 1}


async def test_grpc_load_records_escalations(sidecar: Sidecar) -> None:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(10, seed=4)]
    res = await run_grpc(f"127.0.0.1:{sidecar.grpc_port}", bodies, concurrency=2, max_seconds=120)
    assert res.ok == 10 and res.escalated == [False] * 10


async def test_grpc_load_over_several_connections(sidecar: Sidecar) -> None:
    bodies = [with_candidates(b, CANDIDATES) for b in mixed_requests(12, seed=5)]
    res = await run_grpc(f"127.0.0.1:{sidecar.grpc_port}", bodies, concurrency=4, max_seconds=120,
                         channels=3)
    assert res.ok == 12 and res.statuses == {"ok": 12}
