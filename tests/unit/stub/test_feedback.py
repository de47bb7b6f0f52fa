"""Feedback bodies from LiteLLM's logging kwargs; the bounded background sender."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from routeiq_litellm.feedback import FeedbackSender, feedback_body
from routeiq_litellm.request import remember_decision
from routeiq_litellm.stats import Outcome
from routeiq_litellm.transport import Decision, TransportError

T0 = datetime(2025, 1, 1, 12, 0, 0)


def logged(kwargs: dict[str, Any], deployment: str, **extra: Any) -> dict[str, Any]:
    """Roughly what LiteLLM hands a CustomLogger after a router call."""
    return {
        "litellm_params": {"metadata": kwargs["metadata"], "model_info": {"id": deployment}},
        **extra,
    }


def test_success_body_has_latency_and_cost() -> None:
    kw: dict[str, Any] = {"metadata": {}}
    remember_decision(kw, "dec-1", "cheap", "src")
    body = feedback_body(logged(kw, "cheap", response_cost=0.002), T0,
                         T0 + timedelta(milliseconds=250), True)
    assert body == {"decision_id": "dec-1", "success": True, "latency_ms": 250.0,
                    "cost_usd": 0.002}


def test_failure_body_names_the_error() -> None:
    kw: dict[str, Any] = {"metadata": {}}
    remember_decision(kw, "dec-2", "strong")
    body = feedback_body(logged(kw, "strong", exception=RuntimeError("rate limited")), 1.0, 1.5,
                         False)
    assert body is not None
    assert body["success"] is False and body["latency_ms"] == 500.0
    assert body["error"] == "RuntimeError: rate limited"
    assert "cost_usd" not in body


def test_calls_routeiq_did_not_route_send_nothing() -> None:
    assert feedback_body({"litellm_params": {"metadata": {}}}, T0, T0, True) is None
    kw: dict[str, Any] = {"metadata": {}}
    remember_decision(kw, "dec-3", "cheap", "src")
    assert feedback_body(logged(kw, "other"), T0, T0, True) is None  # LiteLLM's fallback pick
    assert feedback_body(logged(kw, "cheap"), T0, T0, True, source="another") is None


class SlowTransport:
    """Stands in for a sidecar that is slow to take feedback (gate-controlled)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.bodies: list[dict[str, Any]] = []

    def route(self, body: dict[str, Any], timeout_s: float) -> Decision:
        raise NotImplementedError

    async def aroute(self, body: dict[str, Any], timeout_s: float) -> Decision:
        raise NotImplementedError

    def feedback(self, body: dict[str, Any], timeout_s: float) -> bool:
        self.gate.wait(10)
        if body.get("decision_id") == "boom":
            raise TransportError(Outcome.UNREACHABLE, "down")
        self.bodies.append(body)
        return body.get("decision_id") != "unknown"

    def close(self) -> None:
        pass



def test_sender_is_bounded_and_never_blocks() -> None:
    transport = SlowTransport()
    sender = FeedbackSender(transport, max_queue=2)
    results = [sender.submit({"decision_id": f"d{i}"}) for i in range(10)]
    # one may already be in the worker's hands; the queue holds two more; the rest are dropped
    assert results.count(True) in (2, 3)
    assert sender.counts["dropped"] == results.count(False)
    transport.gate.set()
    assert sender.flush(10)
    assert len(transport.bodies) == results.count(True)


def test_sender_counts_unknown_and_failed_deliveries() -> None:
    transport = SlowTransport()
    transport.gate.set()
    sender = FeedbackSender(transport)
    for did in ("ok", "unknown", "boom"):
        sender.submit({"decision_id": did})
    assert sender.flush(10)
    assert sender.counts["sent"] == 1
    assert sender.counts["unknown_decision"] == 1
    assert sender.counts["failed"] == 1


def test_a_plugin_decision_is_reported_only_for_the_model_the_sidecar_selected() -> None:
    """The plugin narrows to several models; an answer from another than the selected one
    says nothing about the selected model, so it is not reported."""
    meta = {"routing_plugin_signals": {"routeiq": {
        "decision_id": "dec-p", "deployment_ids": ["cheap", "cheap-eu"],
        "routeiq_source": "plugin-1"}}}
    kw: dict[str, Any] = {"metadata": meta}
    for dep in ("cheap", "cheap-eu"):
        body = feedback_body(logged(kw, dep), T0, T0, True, "plugin-1")
        assert body is not None and body["decision_id"] == "dec-p"
    assert feedback_body(logged(kw, "strong"), T0, T0, True, "plugin-1") is None
    assert feedback_body(logged(kw, "cheap"), T0, T0, True, "another-plugin") is None

