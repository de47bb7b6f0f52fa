"""Prometheus metrics, in a registry of the app's own (several servers can share a process).

Under ``serve --workers N`` the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` (a folder in its
temp dir) before it starts the workers: prometheus_client then keeps every value in files
there, and each worker's ``/metrics`` answers the sum over all workers (``exposition``), so
counters never jump back and forth between scrapes. Gauges say how workers combine: requests
in flight add up (``livesum``), the state store is up only if it is up in every worker
(``livemin``), worker and bundle info keep one series per live worker (``liveall``, by pid).

The values a decision touches (its counter, the stage and request histograms, batch sizes,
cache lookups) are gathered in Python numbers and reach prometheus_client at ``flush``: before
every scrape and every ``accumulate.FLUSH_S`` (telemetry/accumulate.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import overload

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from routeiq_sidecar.limits import MAX_LABEL_CHARS, MAX_MODEL_LABELS
from routeiq_sidecar.telemetry.accumulate import LocalCounter, LocalHistogram
from routeiq_sidecar.types import Decision

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable
OTHER_LABEL = "other"


def multiprocess_dir() -> str | None:
    """The shared metrics folder when this process is one of several workers."""
    return os.environ.get(MULTIPROC_ENV) or None

STAGES = ("tokenize", "embed", "classify", "queue", "total")
STAGE_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.004,
    0.008,
    0.016,
    0.032,
    0.064,
    0.128,
    0.256,
    1.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class BoundedLabel:
    """Label values a caller chooses (a candidate's ``model``), bounded: the first ``max_values``
    distinct values of at most ``max_chars`` characters are kept as they are, any other value is
    ``other``, so neither ``/metrics`` nor the registry grows with what callers send."""

    def __init__(self, max_values: int = MAX_MODEL_LABELS, max_chars: int = MAX_LABEL_CHARS):
        self.max_values = max_values
        self.max_chars = max_chars
        self._seen: set[str] = set()

    def label(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(value) > self.max_chars or len(self._seen) >= self.max_values:
            return OTHER_LABEL
        self._seen.add(value)
        return value


class Metrics:
    def __init__(self) -> None:
        self.multiprocess_dir = multiprocess_dir()
        self.models = BoundedLabel()
        r = self.registry = CollectorRegistry()
        self.decisions = Counter(
            "routeiq_decisions",
            "Routing decisions.",
            ["strategy", "profile", "selected_model", "degraded"],
            registry=r,
        )
        self.classifications = Counter("routeiq_classifications", "Classify calls.", registry=r)
        self.feedback = Counter("routeiq_feedback", "Feedback received.", ["result"], registry=r)
        self.stage_seconds = Histogram(
            "routeiq_stage_seconds",
            "Latency per stage.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        # what a decision touches: looked up once (labels() takes a lock and builds keys), and
        # gathered until ``flush`` (telemetry/accumulate.py)
        self._local: list[LocalCounter | LocalHistogram] = []
        self._stages = [self._gather(self.stage_seconds.labels(s)) for s in STAGES]
        self._decided: dict[tuple[str, str, str, str], LocalCounter] = {}
        self._requests: dict[tuple[str, str], LocalHistogram] = {}
        self.request_seconds = Histogram(
            "routeiq_request_seconds",
            "Latency per request, by transport and method.",
            ["transport", "method"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "routeiq_batch_size", "Prompts per encoder call.", buckets=BATCH_BUCKETS, registry=r
        )
        self.predict_batch_size = Histogram(
            "routeiq_predict_batch_size",
            "Predictions per shared head call (concurrent decisions of one strategy).",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "routeiq_embedding_cache", "Embedding cache lookups.", ["result"], registry=r
        )
        self.batch_sizes = self._gather(self.batch_size)  # .observe: the encoder's on_batch
        self.predict_batch_sizes = self._gather(self.predict_batch_size)
        self.cache_hits = self._gather(self.cache.labels("hit"))
        self.cache_misses = self._gather(self.cache.labels("miss"))
        self.cascade = Counter(
            "routeiq_cascade_answers",
            "Answers of the cascade encoder, by the tier that answered (minilm: escalated).",
            ["tier"],
            registry=r,
        )
        self.in_flight = Gauge(
            "routeiq_in_flight", "Requests being served.", registry=r, multiprocess_mode="livesum"
        )
        # read at each flush (the pipeline's own count), not moved twice per request
        self._in_flight_source: Callable[[], int] | None = None
        self._in_flight_shown = 0
        self.rejections = Counter(
            "routeiq_rejections", "Requests refused, by reason.", ["reason"], registry=r
        )
        self.degraded = Counter(
            "routeiq_degraded", "Answers from a fallback rule, by cause.", ["cause"], registry=r
        )
        self.bundle = Gauge(
            "routeiq_bundle_info",
            "The loaded bundle (1; 0 for one served before a reload).",
            ["name", "version"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self._bundle_labels: tuple[str, str] | None = None
        # One series per serving process: pid as a label here, added by prometheus_client
        # (liveall) when several workers share the metrics folder.
        pid = [] if self.multiprocess_dir else ["pid"]
        self.worker = Gauge(
            "routeiq_worker_info",
            "The serving processes (one per --workers), by pid.",
            pid,
            registry=r,
            multiprocess_mode="liveall",
        )
        (self.worker.labels(str(os.getpid())) if pid else self.worker).set(1)
        self.reloads = Counter("routeiq_reloads", "Bundle reloads, by result.", ["result"],
                               registry=r)
        # --- shared state, stickiness, learning, experiments (state/, engine/sticky.py, ...)
        self.state_errors = Counter(
            "routeiq_state_errors",
            "State store calls without an answer (down, slow, or waiting to reconnect), by op.",
            ["op"],
            registry=r,
        )
        self.state_up = Gauge(
            "routeiq_state_up",
            "1 while the state store answers, 0 after a failure (0 if so in any worker).",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.state_up.set(1)
        self.state_degraded = Counter(
            "routeiq_state_degraded_decisions",
            "Decisions made without shared state (not sticky, not learned).",
            registry=r,
        )
        self.sticky = Counter(
            "routeiq_sticky",
            "Session stickiness per decision with a session_id: hit, new, broken, unavailable.",
            ["result"],
            registry=r,
        )
        self.learned = Counter(
            "routeiq_learned_decisions",
            "Decisions whose predicted quality blended feedback statistics.",
            registry=r,
        )
        self.experiment_decisions = Counter(
            "routeiq_experiment_decisions",
            "Decisions per experiment arm.",
            ["experiment", "arm", "strategy"],
            registry=r,
        )
        self.experiment_feedback = Counter(
            "routeiq_experiment_feedback",
            "Accepted feedback per experiment arm.",
            ["experiment", "arm"],
            registry=r,
        )
        self.price_unknown = Counter(
            "routeiq_price_unknown_candidates",
            "Candidates sent without a price (priced from their name, else as "
            "types.UNKNOWN_PRICE_PER_MTOK).",
            registry=r,
        )
        self.shadow_decisions = Counter(
            "routeiq_shadow_decisions",
            "Shadow-strategy decisions, by agreement with the served choice.",
            ["experiment", "shadow_strategy", "agree"],
            registry=r,
        )

    @overload
    def _gather(self, child: Histogram) -> LocalHistogram: ...
    @overload
    def _gather(self, child: Counter) -> LocalCounter: ...
    def _gather(self, child: Counter | Histogram) -> LocalCounter | LocalHistogram:
        local = LocalHistogram(child) if isinstance(child, Histogram) else LocalCounter(child)
        self._local.append(local)
        return local

    def flush(self) -> None:
        """Hand what the hot path gathered to prometheus_client (on the event loop's thread),
        and set ``routeiq_in_flight`` from the count ``track_in_flight`` named."""
        for local in self._local:
            local.flush()
        source = self._in_flight_source
        if source is not None and (n := source()) != self._in_flight_shown:
            self.in_flight.set(n)
            self._in_flight_shown = n

    def track_in_flight(self, source: Callable[[], int]) -> None:
        """``routeiq_in_flight`` is ``source()`` as of the last flush (each scrape flushes
        first, so this worker's value is exact; another worker's at most FLUSH_S old)."""
        self._in_flight_source = source

    def set_bundle(self, name: str, version: str) -> None:
        """The bundle now served (the previous one drops to 0)."""
        if self._bundle_labels is not None and self._bundle_labels != (name, version):
            self.bundle.labels(*self._bundle_labels).set(0)
        self.bundle.labels(name, version).set(1)
        self._bundle_labels = (name, version)

    def exposition(self) -> bytes:
        """The text /metrics answers: this process's registry, or with several workers the
        values of all of them (prometheus_client's multiprocess collector)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.multiprocess_dir)
        return generate_latest(merged)

    def request_latency(self, transport: str, method: str) -> LocalHistogram:
        """``request_seconds``' child for one transport and method, gathered until ``flush``
        (remembered: both label sets are the code's own, so bounded)."""
        child = self._requests.get((transport, method))
        if child is None:
            child = self._requests[(transport, method)] = self._gather(
                self.request_seconds.labels(transport, method))
        return child

    def count_decision(
        self, d: Decision, *, state_ok: bool, written: bool, sticky: str | None, learned: bool
    ) -> None:
        """One decision's counters; ``sticky``: the stickiness result, None without a session."""
        key = (d.strategy, d.profile, self.models.label(d.selected.model),
               "true" if d.degraded else "false")
        counter = self._decided.get(key)
        if counter is None:  # bounded: strategies x profiles x model labels x 2
            counter = self._decided[key] = self._gather(self.decisions.labels(*key))
        counter.inc()
        t = d.timings
        for child, us in zip(self._stages, (t.tokenize_us, t.embed_us, t.classify_us,
                                            t.queue_us, t.total_us), strict=True):
            child.observe(us / 1e6)
        if not (state_ok and written):
            self.state_degraded.inc()
        if sticky is not None:
            self.sticky.labels(sticky if state_ok else "unavailable").inc()
        if learned:
            self.learned.inc()
        if d.experiment:
            self.experiment_decisions.labels(d.experiment, d.arm, d.strategy).inc()
        if d.shadow_strategy and d.shadow_selected_id:
            agree = str(d.shadow_selected_id == d.selected.id).lower()
            self.shadow_decisions.labels(d.experiment, d.shadow_strategy, agree).inc()
