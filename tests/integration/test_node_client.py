"""A Node.js gateway calling Route on a real sidecar over gRPC: the example client in
client_stub/examples/node (@grpc/grpc-js + @grpc/proto-loader, loading proto/ at run time)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHEAP, STRONG, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
NODE_EXAMPLE = ROOT / "client_stub" / "examples" / "node"


def node_client(*args: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node absent (Debian: apt-get install nodejs npm)")
    if not (NODE_EXAMPLE / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.skip(f"run `npm ci` in {NODE_EXAMPLE} (scripts/install.sh dev does)")
    return subprocess.run(
        [node, "client.js", *args], cwd=NODE_EXAMPLE, capture_output=True, text=True, timeout=120
    )


def test_pinned_dependencies_and_a_lock_file() -> None:
    package = json.loads((NODE_EXAMPLE / "package.json").read_text())
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned: {version}"
    lock = json.loads((NODE_EXAMPLE / "package-lock.json").read_text())
    assert set(package["dependencies"]) <= set(lock["packages"][""]["dependencies"])


def test_node_routes_through_the_sidecar(tiny_server: ServerProcess) -> None:
    out = node_client("--target", tiny_server.grpc, "--request-id", "node-1", "--prompt", "hi")
    assert out.returncode == 0, out.stderr
    resp = json.loads(out.stdout)
    assert resp["selected_id"] in {"cheap", "strong"}
    assert resp["ranking"][0]["candidate_id"] == resp["selected_id"]
    assert {s["candidate_id"] for s in resp["ranking"]} == {"cheap", "strong"}
    assert resp["request_id"] == "node-1" and resp["decision_id"]
    # defaults are printed too (proto-loader `defaults: true`), as the REST API does
    assert resp["degraded"] is False and resp["strategy"]
    assert "x-request-id: node-1" in out.stderr  # trailing metadata


def test_node_and_rest_agree_on_the_decision(tiny_server: ServerProcess) -> None:
    candidates = [CHEAP, STRONG]
    prompt = "Write a proof that the square root of two is irrational."
    out = node_client(
        "--target", tiny_server.grpc, "--prompt", prompt, "--profile", "premium",
        "--candidates", json.dumps(candidates),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    via_grpc = json.loads(out.stdout)
    via_rest = httpx.post(
        f"{tiny_server.http}/v1/route",
        json={"prompt": prompt, "profile": "premium", "candidates": candidates},
        timeout=30,
    ).json()
    assert via_grpc["selected_id"] == via_rest["selected_id"]
    assert [s["candidate_id"] for s in via_grpc["ranking"]] == [
        s["candidate_id"] for s in via_rest["ranking"]
    ]
    assert via_grpc["bundle_version"] == via_rest["bundle_version"]


def test_node_sees_invalid_argument_naming_the_field(tiny_server: ServerProcess) -> None:
    out = node_client(
        "--target", tiny_server.grpc, "--candidates", json.dumps([CHEAP, CHEAP])
    )  # fmt: skip
    assert out.returncode == 1
    error = json.loads(out.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("candidates[1].id")
