"""RouteIQ's alerts (charts/routeiq/files/alerts.yaml, the chart's PrometheusRule spec):
``promtool check rules`` accepts the file, ``promtool test rules`` runs the unit tests in
tests/deploy/prometheus/alerts_test.yaml (synthetic series: each alert fires when it should
and not otherwise), and docs/operations.md lists exactly the alerts shipped."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.prometheus_support import PROMTOOL, need

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "charts" / "routeiq" / "files" / "alerts.yaml"
UNIT_TESTS = Path(__file__).parent / "prometheus" / "alerts_test.yaml"


def alert_names() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = need(PROMTOOL, "promtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules() -> None:
    proc = promtool("check", "rules", str(ALERTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in proc.stdout


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    spec = yaml.safe_load(UNIT_TESTS.read_text())
    assert [(UNIT_TESTS.parent / f).resolve() for f in spec["rule_files"]] == [ALERTS]
    tested = {a["alertname"] for t in spec["tests"] for a in t["alert_rule_test"]}
    assert len(tested) >= 2 and tested <= set(alert_names())
    proc = promtool("test", "rules", str(UNIT_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_a_broken_rule_is_refused(tmp_path: Path) -> None:
    """The check can fail: a typo in PromQL is an error naming the rule file."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(ALERTS.read_text().replace("sum by (namespace, job) (rate(", "sum by (", 1))
    proc = promtool("check", "rules", str(bad))
    assert proc.returncode != 0 and "bad.yaml" in proc.stdout + proc.stderr


def test_operations_doc_lists_every_alert() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    section = doc.split("## Alerts and dashboard", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(RouteIQ\w+)`", section, re.M)
    assert listed == alert_names()
