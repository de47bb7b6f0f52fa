"""`serve --workers 2`: two processes share both ports (SO_REUSEPORT) and agree: without Redis
a decision made by one worker takes feedback at the other (shared SQLite state), and every
scrape of /metrics answers for both workers (prometheus_client multiprocess mode), so counters
never go back. SIGTERM stops both."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.telemetry.accumulate import FLUSH_S
from tests.conftest import CHEAP, STRONG, ServerProcess, start_server_process, stop_server_process

PID = re.compile(r'^routeiq_worker_info\{pid="(\d+)"\} 1\.0$', re.M)


def fresh(url: str, method: str = "GET", **kw: object) -> httpx.Response:
    """One request on a new connection: SO_REUSEPORT hashes each to one of the workers."""
    with httpx.Client(timeout=60) as c:
        return c.request(method, url, **kw)  # type: ignore[arg-type]


def sample(metrics: str, name: str) -> float:
    """The sum of a metric's samples (every label set) in one scrape."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith((name + "{", name + " ")):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def two_workers(tiny_bundle_path: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    sp = start_server_process(
        "--bundle", str(tiny_bundle_path), "--workers", "2", "--home", str(tmp_path)
    )
    yield sp
    assert stop_server_process(sp, timeout=60) == 0


def test_two_workers_share_the_ports(two_workers: ServerProcess) -> None:
    sp = two_workers
    pids: set[str] = set()
    for _ in range(50):  # one scrape names both live workers (once both wrote their gauge)
        pids = set(PID.findall(fresh(f"{sp.http}/metrics").text))
        if len(pids) == 2:
            break
        time.sleep(0.2)
    assert len(pids) == 2, pids
    r = fresh(f"{sp.http}/v1/route", "POST", json={"prompt": "hi", "candidates": [CHEAP]})
    assert r.status_code == 200
    with grpc.insecure_channel(sp.grpc) as ch:
        g = pb_grpc.RouterServiceStub(ch).Route(
            pb.RouteRequest(prompt="hi", candidates=[pb.Candidate(**CHEAP)]), timeout=30
        )
    assert g.selected_id == "cheap"


def test_feedback_reaches_the_decision_at_either_worker(two_workers: ServerProcess) -> None:
    """20 routes, then 20 feedbacks, each on its own connection: none is a 404."""
    sp = two_workers
    body = {"prompt": "Prove that sqrt(2) is irrational.", "candidates": [CHEAP, STRONG]}
    ids = []
    for _ in range(20):
        r = fresh(f"{sp.http}/v1/route", "POST", json=body)
        assert r.status_code == 200, r.text
        ids.append(r.json()["decision_id"])
    answers = [
        fresh(f"{sp.http}/v1/feedback", "POST", json={"decision_id": d, "success": True})
        for d in ids
    ]
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert all(a.json()["accepted"] and not a.json().get("duplicate") for a in answers)
    again = fresh(f"{sp.http}/v1/feedback", "POST", json={"decision_id": ids[0], "success": True})
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_metrics_sum_both_workers_and_never_go_back(two_workers: ServerProcess) -> None:
    sp = two_workers
    decisions: list[float] = []
    served_by: set[str] = set()
    for i in range(20):
        r = fresh(f"{sp.http}/v1/route", "POST", json={"prompt": f"q{i}", "candidates": [CHEAP]})
        assert r.status_code == 200
        text = fresh(f"{sp.http}/metrics").text
        decisions.append(sample(text, "routeiq_decisions_total"))
        served_by.update(PID.findall(text))
    assert decisions == sorted(decisions)  # monotonic from scrape to scrape, whichever answers
    # the other worker's counts reach the shared files within its flush interval
    # (telemetry/accumulate.py), the answering worker's own at the scrape
    time.sleep(FLUSH_S + 0.5)
    scrapes = [fresh(f"{sp.http}/metrics").text for _ in range(10)]  # ten new connections
    assert {sample(s, "routeiq_decisions_total") for s in scrapes} == {20}
    assert {sample(s, "routeiq_in_flight") for s in scrapes} <= {0.0, 1.0}
    assert len(served_by) == 2
