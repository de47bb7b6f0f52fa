"""A real ``litellm --config client_stub/examples/litellm_config.yaml`` proxy process (mock
deployments, no network) with the stub loaded from that config, and a real sidecar process:
the deployment that serves (``x-litellm-model-id``) is the sidecar's choice, feedback reaches
the sidecar, and with the sidecar killed every request still succeeds. One proxy per transport.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from routeiq_litellm.candidates import build_candidates
from routeiq_litellm.request import build_route_request

from tests.conftest import ROOT, ServerProcess, start_server_process, stop_server_process

# pydantic warns about LiteLLM's own TypedDicts when it is imported; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Item.*ReadOnly:UserWarning")

CONFIG = ROOT / "client_stub" / "examples" / "litellm_config.yaml"
MASTER_KEY = "sk-routeiq-test"
DEPLOYMENT_IDS = {"cheap", "strong", "reasoning"}
PROMPTS = [
    "hi",
    "Explain the difference between TCP and UDP.",
    "Prove that the square root of 2 is irrational.",
]


def litellm_cli() -> str:
    found = shutil.which("litellm", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the LiteLLM proxy is not installed: pip install 'litellm[proxy]'")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def feedback_accepted(sp: ServerProcess) -> float:
    for line in httpx.get(f"{sp.http}/metrics").text.splitlines():
        if line.startswith('routeiq_feedback_total{result="accepted"}'):
            return float(line.split()[-1])
    return 0.0


@dataclass
class Stack:
    transport: str
    sidecar: ServerProcess
    proxy: subprocess.Popen[bytes]
    client: httpx.Client
    log: Path

    def chat(self, prompt: str, **extra: Any) -> httpx.Response:
        body = {"model": "auto", "messages": [{"role": "user", "content": prompt}], **extra}
        return self.client.post("/v1/chat/completions", json=body)

    def proxy_log(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_proxy(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [litellm_cli(), "--config", str(CONFIG), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/health/liveliness"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited {proc.returncode}: {log.read_text()[-4000:]}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, 180):
        proc.kill()
        raise RuntimeError(f"proxy did not start: {log.read_text()[-4000:]}")
    return proc


@pytest.fixture(scope="module", params=["http", "grpc"])
def stack(
    request: pytest.FixtureRequest, tiny_bundle_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    transport: str = request.param
    tmp = tmp_path_factory.mktemp(f"proxy-{transport}")
    sidecar = start_server_process("--bundle", str(tiny_bundle_path), "--home", str(tmp))
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "ROUTEIQ_LITELLM_URL": sidecar.http if transport == "http" else sidecar.grpc,
        "ROUTEIQ_LITELLM_TRANSPORT": transport,
        "ROUTEIQ_LITELLM_TIMEOUT_MS": "10000",  # generous: CI machines are shared
        "ROUTEIQ_LITELLM_BREAKER_FAILURES": "2",
        "ROUTEIQ_LITELLM_BREAKER_RESET_S": "3600",
    }
    env.pop("DATABASE_URL", None)
    log = tmp / "proxy.log"
    try:
        proxy = start_proxy(port, env, log)
    except Exception:
        stop_server_process(sidecar)
        raise
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"authorization": f"Bearer {MASTER_KEY}"})
    yield Stack(transport, sidecar, proxy, client, log)
    client.close()
    proxy.terminate()
    try:
        proxy.wait(30)
    except subprocess.TimeoutExpired:
        proxy.kill()
    stop_server_process(sidecar)


def test_the_serving_deployment_is_the_sidecars_choice(stack: Stack) -> None:
    for prompt in PROMPTS:
        resp = stack.chat(prompt, metadata={"routeiq_strategy": "cheapest"}, user="u-1")
        assert resp.status_code == 200, stack.proxy_log()
        assert resp.headers["x-litellm-model-id"] == "cheap"
        assert resp.headers.get("x-routeiq-decision-id"), stack.proxy_log()
        assert resp.json()["choices"][0]["message"]["content"] == "answered by gpt-4o-mini"


def test_the_proxy_choice_matches_a_direct_decision(stack: Stack) -> None:
    """Same prompt, same candidates (as the stub builds them): same deployment."""
    candidates, _ = build_candidates(yaml.safe_load(CONFIG.read_text())["model_list"])
    for prompt in PROMPTS:
        for strategy in ("strongest", "centroid", ""):
            meta = {"routeiq_strategy": strategy} if strategy else {}
            resp = stack.chat(prompt, metadata=meta)
            assert resp.status_code == 200, stack.proxy_log()
            direct = httpx.post(f"{stack.sidecar.http}/v1/route", json=build_route_request(
                model_group="auto", candidates=candidates,
                messages=[{"role": "user", "content": prompt}], strategy=strategy))
            assert direct.status_code == 200, direct.text
            assert resp.headers["x-litellm-model-id"] == direct.json()["selected_id"], (
                prompt, strategy)


def test_feedback_reaches_the_sidecar(stack: Stack) -> None:
    before = feedback_accepted(stack.sidecar)
    ids = []
    for prompt in PROMPTS:
        resp = stack.chat(prompt)
        assert resp.status_code == 200
        ids.append(resp.headers["x-routeiq-decision-id"])
    assert len(set(ids)) == len(PROMPTS)
    assert wait_until(lambda: feedback_accepted(stack.sidecar) - before >= len(PROMPTS)), (
        stack.proxy_log())
    # the stub already reported each decision: a second report is a duplicate
    again = httpx.post(f"{stack.sidecar.http}/v1/feedback",
                       json={"decision_id": ids[-1], "success": True})
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_requests_still_succeed_after_the_sidecar_is_killed(stack: Stack) -> None:
    """Runs last for its proxy: it kills that proxy's sidecar."""
    stack.sidecar.proc.kill()
    stack.sidecar.proc.wait(30)
    served = set()
    for i in range(6):
        resp = stack.chat(f"question {i}", metadata={"routeiq_strategy": "cheapest"})
        assert resp.status_code == 200, stack.proxy_log()
        assert "x-routeiq-decision-id" not in resp.headers  # LiteLLM's own routing answered
        served.add(resp.headers["x-litellm-model-id"])
    assert served <= DEPLOYMENT_IDS
    assert "falling back to LiteLLM's routing" in stack.proxy_log()
