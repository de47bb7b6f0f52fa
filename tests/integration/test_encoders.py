"""`serve --encoder static|cascade` as a real process: REST and gRPC answers name the encoder
that answered, the cascade's escalations show in `timings` and in /metrics."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from tests.conftest import CHEAP, STRONG, start_server_process, stop_server_process

BODY = {"prompt": "Prove that the square root of two is irrational.", "candidates": [CHEAP, STRONG]}


def test_static_encoder_serves(tiny_bundle_path: Path, tmp_path: Path) -> None:
    sp = start_server_process(
        "--bundle", str(tiny_bundle_path), "--home", str(tmp_path), "--encoder", "static"
    )
    try:
        r = httpx.post(f"{sp.http}/v1/route", json=BODY)
        assert r.status_code == 200, r.text
        t = r.json()["timings"]
        assert t["encoder"] == "static" and t["escalated"] is False
        assert t["escalated_share"] == 0
        info = httpx.get(f"{sp.http}/v1/info").json()
        assert info["settings"]["encoder"] == "static"
        assert info["encoder"] == "static 32-d from tiny-random-bert(seed=0) 0"  # the tiny BERT
    finally:
        assert stop_server_process(sp) == 0


def test_cascade_escalations_in_answers_and_metrics(tiny_bundle_path: Path, tmp_path: Path) -> None:
    sp = start_server_process(
        "--bundle", str(tiny_bundle_path), "--home", str(tmp_path), "--encoder", "cascade",
        env={"ROUTEIQ_CASCADE_MARGIN": "1"},  # every choice counts as unsure: MiniLM answers
    )
    try:
        t = httpx.post(f"{sp.http}/v1/route", json=BODY).json()["timings"]
        assert (t["encoder"], t["escalated"], t["escalated_share"]) == ("minilm", True, 1.0)
        cheapest = httpx.post(f"{sp.http}/v1/route", json={**BODY, "strategy": "cheapest"})
        t = cheapest.json()["timings"]
        assert (t["encoder"], t["escalated"], t["escalated_share"]) == ("static", False, 0.5)
        with grpc.insecure_channel(sp.grpc) as ch:
            stub = pb_grpc.RouterServiceStub(ch)
            resp = stub.Route(pb.RouteRequest(prompt=BODY["prompt"], candidates=[
                pb.Candidate(**CHEAP), pb.Candidate(**STRONG)]))
        assert resp.timings.encoder == "minilm" and resp.timings.escalated
        assert abs(resp.timings.escalated_share - 2 / 3) < 1e-6
        metrics = httpx.get(f"{sp.http}/metrics").text
        assert 'routeiq_cascade_answers_total{tier="minilm"} 2.0' in metrics
        assert 'routeiq_cascade_answers_total{tier="static"} 1.0' in metrics
    finally:
        assert stop_server_process(sp) == 0
