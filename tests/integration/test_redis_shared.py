"""Two real sidecar processes sharing one real redis-server; Redis killed and restarted in traffic.

What must hold: a session routed by A continues on B; feedback sent to A changes B's ranking;
experiment arms are the same on both and either one's GetInfo counts both; with Redis gone no
route fails (answers say so, the degraded metric rises) and once Redis is back stickiness and
learning resume without a restart.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CHEAP, STRONG, ServerProcess, start_server_process, stop_server_process
from tests.redis_support import RedisServer, running_redis, wait_for

MID = {
    "id": "mid",
    "model": "openai/gpt-4o",
    "input_cost_per_mtok": 2.5,
    "output_cost_per_mtok": 10,
}
CANDIDATES = [CHEAP, MID, STRONG]
EXPERIMENTS = [
    {
        "name": "ab",
        "arms": [
            {"name": "control", "strategy": "centroid", "weight": 1},
            {"name": "cheap", "strategy": "cheapest", "weight": 1},
        ],
        "shadow_strategy": "strongest",
        "model_groups": ["ab"],
    }
]


def env_for(redis: RedisServer) -> dict[str, str]:
    return {
        "ROUTEIQ_REDIS_URL": redis.url,
        "ROUTEIQ_REDIS_TIMEOUT_MS": "1000",  # generous: a busy CI machine is not a slow Redis
        "ROUTEIQ_FEEDBACK_WEIGHT": "0.9",
        "ROUTEIQ_FEEDBACK_PRIOR_STRENGTH": "2",
        "ROUTEIQ_EXPERIMENTS": json.dumps(EXPERIMENTS),
    }


def start(bundle: Path, home: Path, redis: RedisServer) -> ServerProcess:
    return start_server_process("--bundle", str(bundle), "--home", str(home), env=env_for(redis))


def route(sp: ServerProcess, prompt: str = "Explain recursion to a child", **kw: Any) -> Any:
    body = {"prompt": prompt, "candidates": CANDIDATES, **kw}
    r = httpx.post(f"{sp.http}/v1/route", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def feedback(sp: ServerProcess, decision_id: str, **kw: Any) -> httpx.Response:
    return httpx.post(f"{sp.http}/v1/feedback", json={"decision_id": decision_id, **kw}, timeout=30)


def metric(sp: ServerProcess, name: str, **labels: str) -> float:
    text = httpx.get(f"{sp.http}/metrics", timeout=30).text
    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def quality_of(decision: Any, candidate_id: str) -> Any:
    return next(s for s in decision["ranking"] if s["candidate_id"] == candidate_id)


# --- two sidecars, one Redis
@pytest.fixture(scope="module")
def shared(
    tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess, RedisServer]]:
    tmp = tmp_path_factory.mktemp("redis-shared")
    with running_redis(tmp / "redis") as redis:
        a = start(tiny_bundle_path, tmp / "a", redis)
        try:
            b = start(tiny_bundle_path, tmp / "b", redis)
        except Exception:
            stop_server_process(a)
            raise
        try:
            yield a, b, redis
        finally:
            stop_server_process(a)
            stop_server_process(b)


def test_a_session_routed_by_a_continues_on_b(shared: Any) -> None:
    a, b, _ = shared
    first = route(a, session_id="sess-1", model_group="chat")
    assert first["sticky"] is False
    for prompt in ("Now write it in Rust", "Thanks, and a unit test?"):
        later = route(b, prompt, session_id="sess-1", model_group="chat")
        assert later["sticky"] is True and later["selected_id"] == first["selected_id"]
    # the same session id in another model group is another session
    assert route(b, session_id="sess-1", model_group="other")["sticky"] is False


def test_feedback_sent_to_a_changes_the_ranking_on_b(shared: Any) -> None:
    a, b, _ = shared
    prompt = "Summarise the causes of the French revolution in three bullet points"
    before = route(b, prompt)
    top = before["selected_id"]
    for _ in range(12):
        d = route(a, prompt)
        if d["selected_id"] != top:
            break
        r = feedback(a, d["decision_id"], score=0.0, latency_ms=1500)
        assert r.status_code == 200 and r.json()["accepted"] is True
    after = route(b, prompt)
    was, now = quality_of(before, top), quality_of(after, top)
    assert now["predicted_quality"] < was["predicted_quality"]
    assert now["quality_source"].endswith("+feedback")
    assert after["selected_id"] != top  # the bad outcomes moved the traffic on B too


def test_feedback_is_shared_and_idempotent_across_replicas(shared: Any) -> None:
    a, b, _ = shared
    d = route(a, "What is 2 + 2?")
    first = feedback(b, d["decision_id"], success=True)  # A decided, B receives the outcome
    assert first.status_code == 200 and first.json()["duplicate"] is False
    again = feedback(a, d["decision_id"], success=False)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    unknown = feedback(b, "f" * 32, score=0.5)
    assert unknown.status_code == 404 and "unknown or expired" in unknown.text


def test_experiment_arms_agree_and_counts_are_shared(shared: Any) -> None:
    a, b, _ = shared
    arms = {}
    for i in range(16):
        da = route(a, f"question {i}", user_id=f"user-{i}", model_group="ab")
        db = route(b, f"another question {i}", user_id=f"user-{i}", model_group="ab")
        assert (da["experiment"], da["arm"]) == (db["experiment"], db["arm"]) == ("ab", da["arm"])
        assert da["shadow_strategy"] == "strongest" and da["shadow_selected_id"] == "strong"
        arms[i] = da["arm"]
        assert feedback(a, da["decision_id"], score=0.8).status_code == 200
    assert set(arms.values()) == {"control", "cheap"}
    n_control = sum(arm == "control" for arm in arms.values())

    def b_counts_both_replicas() -> bool:
        info = httpx.get(f"{b.http}/v1/info", timeout=30).json()
        exp = {e["name"]: e for e in info["experiments"]}["ab"]
        by_arm = {arm["name"]: arm for arm in exp["arms"]}
        control = by_arm["control"]
        return (
            int(control["decisions"]) == 2 * n_control
            and int(control["feedback_count"]) == n_control
            and abs(control["mean_feedback"] - 0.8) < 1e-9
            and int(by_arm["cheap"]["decisions"]) == 2 * (16 - n_control)
        )

    wait_for(b_counts_both_replicas, timeout=30, every=0.3)
    assert metric(a, "routeiq_experiment_decisions_total", experiment="ab") == 16


# --- Redis killed and restarted under traffic
class Traffic:
    """Routes in a loop from a thread and records every status code."""

    def __init__(self, sp: ServerProcess) -> None:
        self.sp = sp
        self.codes: list[int] = []
        self.answers: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as c:
            i = 0
            while not self._stop.is_set():
                i += 1
                r = c.post(
                    f"{self.sp.http}/v1/route",
                    json={
                        "prompt": f"traffic {i % 7}",
                        "candidates": CANDIDATES,
                        "session_id": f"t-{i % 5}",
                        "user_id": f"u-{i % 9}",
                        "model_group": "ab",
                    },
                )
                self.codes.append(r.status_code)
                if r.status_code == 200:
                    self.answers.append(r.json())

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def wait_more(self, n: int) -> None:
        target = len(self.codes) + n
        wait_for(lambda: len(self.codes) >= target, timeout=60)


def test_redis_killed_during_traffic_then_restarted(tiny_bundle_path: Path, tmp_path: Path) -> None:
    with running_redis(tmp_path / "redis") as redis:
        sp = start(tiny_bundle_path, tmp_path / "home", redis)
        try:
            with Traffic(sp) as traffic:
                traffic.wait_more(30)
                assert any(d["sticky"] for d in traffic.answers)  # sessions stick while up
                redis.kill()
                traffic.wait_more(60)
                down = metric(sp, "routeiq_state_degraded_decisions_total")
                assert down > 0
                assert metric(sp, "routeiq_state_errors_total") > 0
                assert metric(sp, "routeiq_state_up") == 0
                n_before_restart = len(traffic.answers)
                d = route(sp, session_id="while-down")
                assert d["sticky"] is False and "shared state unavailable" in d["reason"]
                r = feedback(sp, d["decision_id"], score=1.0)
                assert r.status_code == 503 and "not recorded" in r.text

                redis.start()  # same port, empty: no persistence
                wait_for(lambda: metric(sp, "routeiq_state_up") == 1, timeout=30, every=0.2)
                traffic.wait_more(30)
            assert traffic.codes and set(traffic.codes) == {200}  # zero failed requests
            assert any(
                "shared state unavailable" in d["reason"]
                for d in traffic.answers[:n_before_restart]
            )

            # stickiness resumes: the first turn after the restart pins, the next one sticks
            first = route(sp, session_id="after-restart")
            again = route(sp, "and a follow-up", session_id="after-restart")
            assert again["sticky"] is True and again["selected_id"] == first["selected_id"]
            # learning resumes: feedback is accepted and shows in the next ranking
            prompt = "Plan a three-day trip to Kyoto"
            d = route(sp, prompt)
            r = feedback(sp, d["decision_id"], score=0.0)
            assert r.status_code == 200 and r.json()["accepted"] is True
            later = route(sp, prompt)
            assert quality_of(later, d["selected_id"])["quality_source"].endswith("+feedback")
        finally:
            stop_server_process(sp)
