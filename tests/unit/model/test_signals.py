"""Centroid classifier: persistence, probabilities, complexity score."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.model.signals import (
    CentroidClassifier,
    _softmax,
    centroids_from,
    order_tiers,
)

DIM = 8


def unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float32)


def basis(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    return v


@pytest.fixture
def clf() -> CentroidClassifier:
    rng = np.random.default_rng(7)
    cats = np.stack([unit(rng.normal(size=DIM)) for _ in range(4)])
    simple, complex_ = basis(0), basis(1)
    medium = unit(simple + complex_)
    return CentroidClassifier(
        categories=("code", "math", "chit_chat", "translation"),
        category_centroids=cats,
        tiers=("simple", "medium", "complex"),
        tier_centroids=np.stack([simple, medium, complex_]),
        temperature=0.05,
    )


def test_save_load_round_trip(clf: CentroidClassifier, tmp_path: Path) -> None:
    path = tmp_path / "centroids.npz"
    clf.save(path)
    back = CentroidClassifier.load(path)
    assert back.categories == clf.categories
    assert back.tiers == clf.tiers
    assert back.temperature == pytest.approx(clf.temperature)
    np.testing.assert_array_equal(back.category_centroids, clf.category_centroids)
    np.testing.assert_array_equal(back.tier_centroids, clf.tier_centroids)
    assert back.category_centroids.dtype == np.float32
    v = unit(np.arange(DIM, dtype=np.float32) + 1)
    assert back.classify(v, 10) == clf.classify(v, 10)


def test_softmax() -> None:
    p = _softmax([1000.0, 1001.0, 999.0])  # no overflow on large logits
    assert np.all(np.isfinite(p))
    assert sum(p) == pytest.approx(1.0)
    assert int(np.argmax(p)) == 1


def test_probabilities_sum_to_one(clf: CentroidClassifier) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = clf.classify(unit(rng.normal(size=DIM)), 42)
        assert sum(s.category_scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert set(s.category_scores) == set(clf.categories)
        assert 0.0 < s.confidence <= 1.0
        assert s.confidence == pytest.approx(max(s.category_scores.values()), abs=1e-4)
        assert s.category_scores[s.category] == pytest.approx(s.confidence, abs=1e-4)
        assert 0.0 <= s.complexity_score <= 1.0
        assert s.complexity in clf.tiers
        assert s.estimated_prompt_tokens == 42


def test_category_of_a_centroid_is_itself(clf: CentroidClassifier) -> None:
    for name, centroid in zip(clf.categories, clf.category_centroids, strict=True):
        assert clf.classify(centroid, 1).category == name


def test_complexity_monotone_from_simple_to_complex(clf: CentroidClassifier) -> None:
    simple, complex_ = clf.tier_centroids[0], clf.tier_centroids[2]
    scores, tiers = [], []
    for t in np.linspace(0.0, 1.0, 41):
        s = clf.classify(unit((1 - t) * simple + t * complex_), 1)
        scores.append(s.complexity_score)
        tiers.append(s.complexity)
    assert all(0.0 <= x <= 1.0 for x in scores)
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(scores)), scores
    assert scores[0] < 0.25 and scores[-1] > 0.75
    assert tiers[0] == "simple" and tiers[-1] == "complex" and "medium" in tiers


def test_unknown_tier_names_count_as_medium() -> None:
    clf = CentroidClassifier(("a",), np.stack([basis(0)]), ("odd",), np.stack([basis(0)]), 0.1)
    s = clf.classify(basis(0), 1)
    assert s.complexity == "odd"
    assert s.complexity_score == pytest.approx(0.5)


def test_centroids_from() -> None:
    names, rows = centroids_from(
        {
            "x": np.stack([basis(0), basis(0) * 3]),
            "y": np.stack([basis(1), basis(2)]),
        }
    )
    assert names == ("x", "y")
    assert rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(rows[0], basis(0), atol=1e-6)
    np.testing.assert_allclose(rows[1], unit(basis(1) + basis(2)), atol=1e-6)


def test_order_tiers() -> None:
    assert order_tiers(("complex", "extra", "simple", "medium")) == (
        "simple",
        "medium",
        "complex",
        "extra",
    )
    assert order_tiers(("complex", "simple")) == ("simple", "complex")
