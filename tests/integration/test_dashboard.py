"""The Grafana dashboard (charts/routeiq/dashboards/routeiq.json) and the alert rules against
a real Prometheus (Debian's ``prometheus``) scraping a real sidecar (``serve --workers 2``,
the image's shape: one aggregated /metrics).

Every panel query runs through Prometheus's HTTP API with Grafana's variables filled in
(``$job``: the scrape job, ``$__rate_interval``: a window holding several scrapes): each must
parse and evaluate (status success); the decision-rate and latency panels must return data.
Every alert rule, loaded by the same Prometheus, must evaluate without error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CHEAP, STRONG, ServerProcess, start_server_process, stop_server_process
from tests.prometheus_support import INSTALL_HINT, PROMETHEUS, PrometheusServer
from tests.redis_support import wait_for

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "charts" / "routeiq" / "dashboards" / "routeiq.json"
ALERTS = ROOT / "charts" / "routeiq" / "files" / "alerts.yaml"
JOB = "routeiq"
RATE_WINDOW = "1m"  # $__rate_interval: dozens of 1 s scrapes
MUST_HAVE_DATA = ("Decision rate", "Decision latency by stage (p50, p99)")

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason=f"prometheus not found: {INSTALL_HINT}")


def panels() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(DASHBOARD.read_text())["panels"]
    return found


def grafana_expr(expr: str) -> str:
    """The query Grafana sends for a panel target, with the dashboard's variables set."""
    return expr.replace("$__rate_interval", RATE_WINDOW).replace("$job", JOB)


def test_dashboard_json_names_the_panels_asked_for() -> None:
    dash = json.loads(DASHBOARD.read_text())
    titles = [p["title"] for p in dash["panels"]]
    for must in (*MUST_HAVE_DATA, "Fallbacks", "Load shed and in flight", "Degraded decisions",
                 "State store errors", "Encoder batch size"):
        assert must in titles
    assert len({p["id"] for p in dash["panels"]}) == len(titles)
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "job"}
    for p in dash["panels"]:
        assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])


@pytest.fixture
def sidecar_and_prometheus(
    tiny_bundle_path: Path, tmp_path: Path
) -> Iterator[tuple[ServerProcess, PrometheusServer]]:
    sp = start_server_process(
        "--bundle", str(tiny_bundle_path), "--workers", "2", "--home", str(tmp_path / "home")
    )
    prom = PrometheusServer(
        tmp_path / "prometheus",
        {JOB: [f"127.0.0.1:{sp.http_port}"]},
        scrape_interval="1s",
        rule_files=[ALERTS],
    )
    try:
        prom.start()
        yield sp, prom
    finally:
        prom.stop()
        stop_server_process(sp, timeout=60)


def scraped_decisions(prom: PrometheusServer) -> float:
    result = prom.query(f'sum(routeiq_decisions_total{{job="{JOB}"}})')["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def route(sp: ServerProcess, n: int, tag: str) -> None:
    body = {"prompt": "", "candidates": [CHEAP, STRONG], "session_id": ""}
    with httpx.Client(timeout=60) as c:
        for i in range(n):
            body["prompt"] = f"{tag} {i}: prove that sqrt(2) is irrational, then explain it"
            r = c.post(f"{sp.http}/v1/route", json=body)
            assert r.status_code == 200, r.text
            fb = c.post(f"{sp.http}/v1/feedback",
                        json={"decision_id": r.json()["decision_id"], "success": i % 2 == 0})
            assert fb.status_code == 200, fb.text
        # one refusal, so the refusal panels have a series
        assert c.post(f"{sp.http}/v1/route", json={"candidates": []}).status_code == 400


def test_every_panel_query_runs_against_a_real_prometheus(
    sidecar_and_prometheus: tuple[ServerProcess, PrometheusServer],
) -> None:
    sp, prom = sidecar_and_prometheus
    # two batches of routes, each seen by a scrape, so rates and quantiles have an increase
    route(sp, 10, "first")
    wait_for(lambda: scraped_decisions(prom) >= 10, timeout=60)
    route(sp, 10, "second")
    wait_for(lambda: scraped_decisions(prom) >= 20, timeout=60)

    # the dashboard's job variable lists the scrape job
    jobs = prom.api("label/job/values", **{"match[]": "routeiq_decisions_total"})
    assert jobs["status"] == "success" and JOB in jobs["data"]

    answers: dict[str, list[list[dict[str, Any]]]] = {}
    for p in panels():
        for t in p["targets"]:
            ans = prom.query(grafana_expr(t["expr"]))
            assert ans["status"] == "success", (p["title"], t["expr"], ans)
            answers.setdefault(p["title"], []).append(ans["data"]["result"])

    for title in MUST_HAVE_DATA:
        for result in answers[title]:
            assert result, f"{title}: no data"
            values = [float(s["value"][1]) for s in result]
            assert all(math.isfinite(v) and v > 0 for v in values), (title, result)
    stages = {s["metric"]["stage"] for s in answers["Decision latency by stage (p50, p99)"][0]}
    assert {"tokenize", "embed", "classify", "queue", "total"} <= stages

    # every alert rule evaluates cleanly against the sidecar's real series
    def rules_evaluated() -> bool:
        groups = prom.api("rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return bool(rules) and all(r.get("lastEvaluation", "").startswith("20") for r in rules)

    wait_for(rules_evaluated, timeout=60)
    rules = [r for g in prom.api("rules")["data"]["groups"] for r in g["rules"]]
    assert len(rules) == ALERTS.read_text().count("- alert:")
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    assert prom.query("ALERTS")["status"] == "success"
