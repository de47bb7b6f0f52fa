"""The embedding LRU: bound, eviction order, counters, capacity 0 = off."""

from __future__ import annotations

import numpy as np

from routeiq_sidecar.model.cache import EmbeddingCache, text_key


def vec(x: float) -> np.ndarray:
    return np.full(4, x, dtype=np.float32)


def test_text_key() -> None:
    assert text_key("hello") == text_key("hello")
    assert text_key("hello") != text_key("hello ")
    assert len(text_key("x")) == 16
    assert text_key("\ud800 lone surrogate")  # does not raise on unpaired surrogates


def test_hit_and_miss_counters() -> None:
    c = EmbeddingCache(4)
    k = text_key("a")
    assert c.get(k) is None
    assert (c.hits, c.misses) == (0, 1)
    c.put(k, vec(1.0))
    got = c.get(k)
    assert got is not None and np.array_equal(got, vec(1.0))
    assert (c.hits, c.misses) == (1, 1)
    assert c.get(text_key("b")) is None
    assert (c.hits, c.misses) == (1, 2)


def test_bounded_size() -> None:
    c = EmbeddingCache(3)
    for i in range(10):
        c.put(text_key(str(i)), vec(i))
        assert len(c) <= 3
    assert len(c) == 3
    assert [c.get(text_key(str(i))) is not None for i in range(10)] == [False] * 7 + [True] * 3


def test_eviction_order_is_least_recently_used() -> None:
    c = EmbeddingCache(3)
    a, b, d, e = (text_key(t) for t in "abde")
    c.put(a, vec(1))
    c.put(b, vec(2))
    c.put(d, vec(3))
    assert c.get(a) is not None  # a is now the most recent; b the least
    c.put(e, vec(4))
    assert c.get(b) is None
    assert c.get(a) is not None and c.get(d) is not None and c.get(e) is not None


def test_put_refreshes_and_replaces() -> None:
    c = EmbeddingCache(2)
    a, b, d = (text_key(t) for t in "abd")
    c.put(a, vec(1))
    c.put(b, vec(2))
    c.put(a, vec(9))  # refresh a: b is now the oldest
    c.put(d, vec(3))
    assert len(c) == 2
    assert c.get(b) is None
    got = c.get(a)
    assert got is not None and np.array_equal(got, vec(9))


def test_capacity_zero_is_off() -> None:
    c = EmbeddingCache(0)
    k = text_key("a")
    c.put(k, vec(1))
    assert len(c) == 0
    assert c.get(k) is None
    assert (c.hits, c.misses) == (0, 0)  # off: not even counted as misses
