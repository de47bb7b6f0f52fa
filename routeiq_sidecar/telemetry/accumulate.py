"""Hot-path counters and histograms: counted in Python numbers, handed to prometheus_client later.

Every prometheus_client ``inc`` or ``observe`` takes a lock, and under ``serve --workers N``
(multiprocess mode) writes to a memory-mapped file as well; a decision makes about eight of
them. Counted with valgrind (instructions per static decision in process, bench/instructions.py;
docs/benchmarks.md "Metrics off the hot path"), that was 3.2% of a decision in one process and
6.0% under several workers; gathered here, 0.5%. Here a decision adds to a Python number (a
bucket's count, a sum) and :meth:`LocalCounter.flush` / :meth:`LocalHistogram.flush` add what
gathered to the prometheus_client values in one call per value that changed.

``Metrics.flush`` runs before every scrape reads the registry (so one process's ``/metrics`` is
exact) and every ``FLUSH_S`` in each worker (so a scrape of one worker sums the others' values
at most that old). Updates and flushes happen on the event loop's thread only: the values are
plain attributes, not locked.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from prometheus_client import Counter, Histogram

FLUSH_S = 1.0  # the oldest a worker's values are in another worker's scrape


class LocalCounter:
    """``inc`` of one counter child, gathered until :meth:`flush`."""

    __slots__ = ("_child", "_n")

    def __init__(self, child: Counter) -> None:
        self._child = child
        self._n = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self._n += amount

    def flush(self) -> None:
        n = self._n
        if n:
            self._n = 0.0
            self._child.inc(n)


class LocalHistogram:
    """``observe`` of one histogram child, gathered until :meth:`flush`: the same buckets
    (the first whose upper bound is at least the value, as prometheus_client counts them) and
    the same sum."""

    __slots__ = ("_bounds", "_child", "_counts", "_pending", "_sum")

    def __init__(self, child: Histogram) -> None:
        check_layout(child)
        self._child = child
        self._bounds: list[float] = list(child._upper_bounds)  # ends with +Inf
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._pending = False

    def observe(self, amount: float) -> None:
        if amount == amount:  # not NaN: NaN counts in the sum and in no bucket
            self._counts[bisect_left(self._bounds, amount)] += 1
        self._sum += amount
        self._pending = True

    def flush(self) -> None:
        if not self._pending:
            return
        counts, total = self._counts, self._sum
        self._counts, self._sum, self._pending = [0] * len(counts), 0.0, False
        child = self._child
        child._sum.inc(total)
        for bucket, n in zip(child._buckets, counts, strict=True):
            if n:
                bucket.inc(n)


def check_layout(child: Histogram) -> None:
    """Fail at start, not at the first flush, if prometheus_client's histogram child no longer
    keeps its buckets as this module reads them (``_upper_bounds``, ``_buckets``, ``_sum``;
    tests/unit/test_accumulate.py compares the exposition with direct observes)."""
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    if (not isinstance(bounds, list) or not bounds or bounds[-1] != math.inf
            or not isinstance(buckets, list) or len(buckets) != len(bounds)
            or not hasattr(child, "_sum")):
        raise RuntimeError("prometheus_client's Histogram layout changed: "
                           "telemetry/accumulate.py needs updating")
