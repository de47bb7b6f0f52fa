"""docs/telemetry.md documents every metric the sidecar exports (the contract stays true)."""

from __future__ import annotations

from pathlib import Path

from routeiq_sidecar.telemetry.metrics import Metrics

DOC = (Path(__file__).resolve().parents[2] / "docs" / "telemetry.md").read_text()


def test_every_metric_is_documented() -> None:
    missing = []
    for family in Metrics().registry.collect():
        suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
        if f"`{family.name}{suffix}`" not in DOC:
            missing.append(family.name + suffix)
    assert not missing, f"add to docs/telemetry.md: {missing}"


def test_contract_attributes_are_documented() -> None:
    from routeiq_sidecar.telemetry.tracing import CONTRACT

    assert f"`{CONTRACT}`" in DOC
    for attr in (
        "routeiq.decision_id",
        "routeiq.selected_id",
        "gen_ai.request.model",
        "routeiq.degraded",
        "routeiq.bundle_version",
        "routeiq.batch_size",
    ):
        assert f"`{attr}`" in DOC, attr
