"""Feedback: a LiteLLM ``CustomLogger`` that reports each routed call's outcome to the sidecar.

The callback only builds a small dict and puts it on a bounded queue (never waits, never
raises); one daemon thread posts the queue to ``/v1/feedback`` (or ``RouterService.Feedback``).
When the queue is full the newest report is dropped and counted: feedback is best effort.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from routeiq_litellm.request import decision_for, decision_source
from routeiq_litellm.transport import Transport, TransportError, make_transport

log = logging.getLogger("routeiq_litellm.feedback")


class FeedbackSender:
    """A bounded queue drained by one background thread (started lazily, again after fork)."""

    def __init__(self, transport: Transport, timeout_s: float = 1.0, max_queue: int = 1000) -> None:
        self.transport = transport
        self.timeout_s = timeout_s
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._counts_lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def _count(self, what: str) -> None:
        with self._counts_lock:
            self.counts[what] += 1

    def submit(self, body: dict[str, Any]) -> bool:
        """Queue one report; False (and counted as dropped) when the queue is full."""
        self._ensure_worker()
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self._count("dropped")
            return False
        self._count("queued")
        return True

    def _ensure_worker(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="routeiq-feedback", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            try:
                taken = self.transport.feedback(body, self.timeout_s)
                self._count("sent" if taken else "unknown_decision")
            except TransportError as exc:
                self._count("failed")
                log.debug("routeiq feedback not delivered (%s): %s", exc.outcome.value, exc)
            except Exception:
                self._count("failed")
                log.debug("routeiq feedback failed", exc_info=True)
            finally:
                self._queue.task_done()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued report was handled; True if that happened in time."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True


def _seconds(start: Any, end: Any) -> float:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return (end - start).total_seconds()
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(end) - float(start)
    return 0.0


def _deployment_id(kwargs: Mapping[str, Any]) -> str | None:
    """The deployment this event is about (``model_info.id``), wherever LiteLLM put it."""
    params = kwargs.get("litellm_params") or {}
    for info in (params.get("model_info"), kwargs.get("model_info"),
                 (params.get("metadata") or {}).get("model_info")):
        if isinstance(info, Mapping) and info.get("id"):
            return str(info["id"])
    slo = kwargs.get("standard_logging_object")
    if isinstance(slo, Mapping) and slo.get("model_id"):
        return str(slo["model_id"])
    return None


def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    params = kwargs.get("litellm_params") or {}
    for meta in (params.get("metadata"), params.get("litellm_metadata"), kwargs.get("metadata"),
                 kwargs.get("litellm_metadata")):
        if isinstance(meta, Mapping) and meta:
            return meta
    return {}


def feedback_body(
    kwargs: Mapping[str, Any],
    start_time: Any,
    end_time: Any,
    success: bool,
    source: str | None = None,
) -> dict[str, Any] | None:
    """The ``FeedbackRequest`` for one logged call; None when RouteIQ did not route it
    (or, with ``source``, when another strategy did)."""
    meta = _metadata(kwargs)
    if source is not None and decision_source(meta) != source:
        return None
    decision_id = decision_for(meta, _deployment_id(kwargs))
    if not decision_id:
        return None
    body: dict[str, Any] = {
        "decision_id": decision_id,
        "success": success,
        "latency_ms": max(0.0, _seconds(start_time, end_time) * 1000.0),
    }
    cost = kwargs.get("response_cost")
    if isinstance(cost, int | float) and cost > 0:
        body["cost_usd"] = float(cost)
    if not success:
        exc = kwargs.get("exception")
        body["error"] = (f"{type(exc).__name__}: {exc}" if exc is not None else "failed")[:500]
    return body


class RouteIQFeedbackLogger(CustomLogger):
    """Add to ``litellm.callbacks`` (SDK) or ``litellm_settings.callbacks`` (proxy)."""

    def __init__(
        self,
        url: str | None = None,
        transport: str = "http",
        *,
        api_key: str | None = None,
        timeout_ms: float = 1000,
        max_queue: int = 1000,
        transport_impl: Transport | None = None,
        source: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source  # None: report every RouteIQ decision
        self.router: Any = None  # the router install() added this logger for
        self.transport_impl: Transport = transport_impl or make_transport(transport, url, api_key)
        self.sender = FeedbackSender(self.transport_impl, timeout_ms / 1000.0, max_queue)

    def report_outcome(self, kwargs: Any, start_time: Any, end_time: Any, success: bool) -> None:
        try:
            body = feedback_body(kwargs, start_time, end_time, success, self.source)
            if body is not None:
                self.sender.submit(body)
        except Exception:  # never let feedback touch the user's call
            log.debug("routeiq feedback skipped", exc_info=True)

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        self.report_outcome(kwargs, start_time, end_time, True)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        self.report_outcome(kwargs, start_time, end_time, False)

    async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        self.report_outcome(kwargs, start_time, end_time, True)

    async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        self.report_outcome(kwargs, start_time, end_time, False)
