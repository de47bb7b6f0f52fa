"""A real ``litellm --config client_stub/examples/litellm_config.yaml`` proxy process (mock
deployments, no network): the stub is loaded by that config alone (``router_settings.plugins``
+ ``litellm_settings.callbacks``). Against a real sidecar the serving deployment
(``x-litellm-model-id``) is the sidecar's choice and feedback reaches the sidecar; with the
sidecar killed, slow or answering garbage every request still succeeds, and the fallbacks are
counted in the proxy's log. One proxy per transport, one more for the misbehaving sidecar.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from routeiq_litellm.candidates import build_candidates

from tests.litellm_support import (
    ROOT,
    Misbehaving,
    Sidecar,
    feedback_accepted,
    free_port,
    misbehaving,
    start_sidecar,
    stub_bundle,
    wait_until,
)

__all__ = ["misbehaving", "stub_bundle"]  # fixtures

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
    try:
        import litellm.proxy.proxy_server  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the LiteLLM proxy is not installed ({exc}): pip install 'litellm[proxy]'")
    return found


@dataclass
class Proxy:
    proc: subprocess.Popen[bytes]
    client: httpx.Client
    log: Path

    def chat(self, prompt: str, **extra: Any) -> httpx.Response:
        body = {"model": "auto", "messages": [{"role": "user", "content": prompt}], **extra}
        return self.client.post("/v1/chat/completions", json=body)

    def proxy_log(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_proxy(tmp: Path, **routeiq: str) -> Proxy:
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": MASTER_KEY,
        **{f"ROUTEIQ_LITELLM_{k.upper()}": v for k, v in routeiq.items()},
    }
    env.pop("DATABASE_URL", None)
    log = tmp / "proxy.log"
    cmd = [litellm_cli(), "--config", str(CONFIG), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited {proc.returncode}: {log.read_text()[-4000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=2
                             ).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, 180, every_s=0.2):
        proc.kill()
        raise RuntimeError(f"proxy did not start: {log.read_text()[-4000:]}")
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"authorization": f"Bearer {MASTER_KEY}"})
    return Proxy(proc, client, log)


@dataclass
class Stack:
    transport: str
    sidecar: Sidecar
    proxy: Proxy


@pytest.fixture(scope="module", params=["http", "grpc"])
def stack(request: pytest.FixtureRequest, stub_bundle: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    transport: str = request.param
    tmp = tmp_path_factory.mktemp(f"proxy-{transport}")
    sidecar = start_sidecar(stub_bundle, tmp / "home")
    try:
        proxy = start_proxy(
            tmp, url=sidecar.url(transport), transport=transport,
            timeout_ms="10000",  # generous: CI machines are shared
            top_k="1",  # the answer is then exactly the sidecar's choice
            breaker_failures="2", breaker_reset_s="3600",
        )
    except Exception:
        sidecar.stop()
        raise
    yield Stack(transport, sidecar, proxy)
    proxy.stop()
    sidecar.stop()


def test_the_example_config_names_the_plugin_alone() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["router_settings"]["plugins"] == ["routeiq_litellm.proxy.routeiq"]
    assert config["litellm_settings"]["callbacks"] == ["routeiq_litellm.proxy.routeiq"]


def test_the_serving_deployment_is_the_sidecars_choice(stack: Stack) -> None:
    for prompt in PROMPTS:
        resp = stack.proxy.chat(prompt, metadata={"routeiq_strategy": "cheapest"}, user="u-1")
        assert resp.status_code == 200, stack.proxy.proxy_log()
        assert resp.headers["x-litellm-model-id"] == "cheap"
        assert resp.headers.get("x-routeiq-decision-id"), stack.proxy.proxy_log()
        assert resp.json()["choices"][0]["message"]["content"] == "answered by gpt-4o-mini"


def test_the_proxy_choice_matches_a_direct_decision(stack: Stack) -> None:
    """Same prompt, same candidates (one per model, as the plugin builds them)."""
    model_list = yaml.safe_load(CONFIG.read_text())["model_list"]
    by_model = {d["litellm_params"]["model"]: d["model_info"]["id"] for d in model_list}
    candidates, _ = build_candidates(
        [{**d, "model_info": {"id": d["litellm_params"]["model"]}} for d in model_list])
    for prompt in PROMPTS:
        for strategy in ("strongest", "cheapest"):
            resp = stack.proxy.chat(prompt, metadata={"routeiq_strategy": strategy})
            assert resp.status_code == 200, stack.proxy.proxy_log()
            direct = httpx.post(f"{stack.sidecar.http}/v1/route", json={
                "model_group": "auto", "candidates": candidates, "strategy": strategy,
                "messages": [{"role": "user", "content": prompt}]})
            assert direct.status_code == 200, direct.text
            if strategy == "cheapest":
                assert resp.headers["x-litellm-model-id"] == "cheap", stack.proxy.proxy_log()
            assert resp.headers["x-litellm-model-id"] == by_model[direct.json()["selected_id"]]


def test_feedback_reaches_the_sidecar(stack: Stack) -> None:
    before = feedback_accepted(stack.sidecar)
    ids = []
    for prompt in PROMPTS:
        resp = stack.proxy.chat(prompt)
        assert resp.status_code == 200
        ids.append(resp.headers["x-routeiq-decision-id"])
    assert len(set(ids)) == len(PROMPTS)
    assert wait_until(lambda: feedback_accepted(stack.sidecar) - before >= len(PROMPTS), 30), (
        stack.proxy.proxy_log())
    again = httpx.post(f"{stack.sidecar.http}/v1/feedback",
                       json={"decision_id": ids[-1], "success": True})
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_requests_still_succeed_after_the_sidecar_is_killed(stack: Stack) -> None:
    """Runs last for its proxy: it kills that proxy's sidecar."""
    stack.sidecar.proc.kill()
    stack.sidecar.proc.wait(30)
    served = set()
    for i in range(6):
        resp = stack.proxy.chat(f"question {i}", metadata={"routeiq_strategy": "cheapest"})
        assert resp.status_code == 200, stack.proxy.proxy_log()
        assert "x-routeiq-decision-id" not in resp.headers  # LiteLLM's own routing answered
        served.add(resp.headers["x-litellm-model-id"])
    assert served <= DEPLOYMENT_IDS
    log = stack.proxy.proxy_log()
    assert "fallback(s) to LiteLLM's own routing" in log
    assert "unreachable=1" in log  # the first fallback's line, with its reason


def test_a_slow_or_garbage_sidecar_never_fails_a_request(
    misbehaving: str, tmp_path: Path
) -> None:
    proxy = start_proxy(tmp_path, url=misbehaving, timeout_ms="300", connect_timeout_ms="0",
                        breaker_failures="1000", warn_interval_s="0")
    try:
        for mode in ("slow", "not_json", "unknown_id", "error"):
            Misbehaving.mode = mode
            for i in range(2):
                resp = proxy.chat(f"{mode} {i}")
                assert resp.status_code == 200, proxy.proxy_log()
                assert resp.headers["x-litellm-model-id"] in DEPLOYMENT_IDS
                assert "x-routeiq-decision-id" not in resp.headers
        log = proxy.proxy_log()
        for reason in ("timeout", "bad_answer", "server_error"):
            assert f"{reason}=" in log, log
    finally:
        proxy.stop()
