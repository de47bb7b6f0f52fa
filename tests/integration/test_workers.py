"""`serve --workers 2`: two processes share both ports (SO_REUSEPORT); SIGTERM stops both."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from tests.conftest import CHEAP, start_server_process, stop_server_process


def _pid(metrics: str) -> str:
    line = next(x for x in metrics.splitlines() if x.startswith("routeiq_worker_info"))
    return line.split('pid="')[1].split('"')[0]


def test_two_workers_share_the_ports(tiny_bundle_path: Path, tmp_path: Path) -> None:
    sp = start_server_process("--bundle", str(tiny_bundle_path), "--workers", "2")
    try:
        pids = set()
        for _ in range(200):  # each new connection is hashed to one of the workers
            with httpx.Client() as c:
                pids.add(_pid(c.get(f"{sp.http}/metrics").text))
                assert (
                    c.post(
                        f"{sp.http}/v1/route", json={"prompt": "hi", "candidates": [CHEAP]}
                    ).status_code
                    == 200
                )
            if len(pids) == 2:
                break
        with grpc.insecure_channel(sp.grpc) as ch:
            r = pb_grpc.RouterServiceStub(ch).Route(
                pb.RouteRequest(prompt="hi", candidates=[pb.Candidate(**CHEAP)]), timeout=30
            )
    finally:
        code = stop_server_process(sp, timeout=60)
    assert len(pids) == 2 and r.selected_id == "cheap"
    assert code == 0
