"""telemetry/accumulate.py: counts gathered in Python and flushed give the exposition that the
same calls made directly on prometheus_client give, in one process and in multiprocess mode."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram

from routeiq_sidecar.telemetry.accumulate import LocalCounter, LocalHistogram
from routeiq_sidecar.telemetry.metrics import STAGE_BUCKETS, Metrics

VALUES = st.floats(min_value=-1.0, max_value=10.0, allow_nan=False) | st.sampled_from(
    [*STAGE_BUCKETS, 0.0, math.inf, math.nan]  # exactly on a bound, the ends, NaN
)


def samples(r: CollectorRegistry) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    """Every sample but the ``_created`` timestamps."""
    return [(x.name, tuple(sorted(x.labels.items())), x.value)
            for family in r.collect() for x in family.samples if not x.name.endswith("_created")]


def same(a: list[tuple[str, tuple[tuple[str, str], ...], float]],
         b: list[tuple[str, tuple[tuple[str, str], ...], float]]) -> bool:
    """Counts exactly; sums (``_sum``, a counter's ``_total``) to float rounding: the flush adds
    a batch's sum to the total, where direct calls add each value to it."""
    def close(x: float, y: float) -> bool:
        return (math.isnan(x) and math.isnan(y)) or x == y or math.isclose(x, y, rel_tol=1e-12,
                                                                            abs_tol=1e-12)
    return len(a) == len(b) and all(
        na == nb and la == lb and (close(va, vb) if na.endswith(("_sum", "_total")) else va == vb)
        for (na, la, va), (nb, lb, vb) in zip(a, b, strict=True))


def pair() -> tuple[CollectorRegistry, Histogram, Counter, CollectorRegistry, Histogram, Counter]:
    def one() -> tuple[CollectorRegistry, Histogram, Counter]:
        r = CollectorRegistry()
        h = Histogram("h", "h", ["stage"], buckets=STAGE_BUCKETS, registry=r)
        c = Counter("c", "c", ["result"], registry=r)
        return r, h, c

    return (*one(), *one())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(VALUES, max_size=20), max_size=4))
def test_flushed_values_equal_direct_observes(batches: list[list[float]]) -> None:
    direct_r, direct_h, direct_c, local_r, local_h, local_c = pair()
    lh = LocalHistogram(local_h.labels("total"))
    lc = LocalCounter(local_c.labels("hit"))
    direct_h.labels("total"), direct_c.labels("hit")  # the same series exist on both
    for batch in batches:  # several flushes, each after some observations
        for v in batch:
            direct_h.labels("total").observe(v)
            lh.observe(v)
            if not math.isnan(v) and v >= 0:
                direct_c.labels("hit").inc(v)
                lc.inc(v)
        lh.flush()
        lc.flush()
        assert same(samples(local_r), samples(direct_r)), (samples(local_r), samples(direct_r))


def test_nothing_reaches_prometheus_before_a_flush() -> None:
    m = Metrics()
    m.request_latency("grpc", "Route").observe(0.002)
    m.cache_hits.inc()

    def count() -> float | None:
        return m.registry.get_sample_value(
            "routeiq_request_seconds_count", {"transport": "grpc", "method": "Route"})

    assert count() == 0.0
    m.flush()
    assert count() == 1.0
    assert m.registry.get_sample_value("routeiq_embedding_cache_total", {"result": "hit"}) == 1
    m.flush()  # nothing new: nothing added twice
    assert count() == 1.0


def test_multiprocess_mode_flushes_into_the_shared_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prometheus_client import multiprocess, values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    values.ValueClass = values.get_value_class()  # what prometheus_client picks at import
    try:
        m = Metrics()
        for v in (0.0001, 0.0003, 0.5, 3.0):
            m.request_latency("rest", "Route").observe(v)
        m.batch_sizes.observe(4)
        m.flush()
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=str(tmp_path))
        labels = {"transport": "rest", "method": "Route"}
        assert merged.get_sample_value("routeiq_request_seconds_count", labels) == 4
        assert merged.get_sample_value("routeiq_request_seconds_bucket",
                                       {**labels, "le": "0.00025"}) == 1
        assert merged.get_sample_value("routeiq_request_seconds_bucket",
                                       {**labels, "le": "1.0"}) == 3
        assert merged.get_sample_value("routeiq_batch_size_sum") == 4
    finally:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
        values.ValueClass = values.get_value_class()
