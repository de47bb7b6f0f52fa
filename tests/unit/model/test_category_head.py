"""The trained category head: shapes, validation, round trip, and how signals use it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.model.category_head import CategoryHead
from routeiq_sidecar.model.signals import CentroidClassifier

CATS = ("code", "math", "translation")


def head(dim: int = 4) -> CategoryHead:
    w = np.zeros((3, dim), np.float32)
    w[0, 0] = w[1, 1] = w[2, 2] = 5.0
    return CategoryHead(CATS, w, np.zeros(3, np.float32))


def test_probs_are_a_distribution_per_row_and_argmax_is_the_category() -> None:
    h = head()
    x = np.eye(4, dtype=np.float32)[:3]
    p = h.probs(x)
    assert p.shape == (3, 3) and np.allclose(p.sum(1), 1.0)
    assert h.predict(x) == list(CATS)
    assert h.probs(x[1]).shape == (3,)  # one vector: one distribution


def test_save_load_round_trip(tmp_path: Path) -> None:
    h = head()
    h.save(tmp_path / "c.npz")
    back = CategoryHead.load(tmp_path / "c.npz")
    assert back.categories == CATS and back.dim == 4
    assert np.array_equal(back.weights, h.weights) and np.array_equal(back.bias, h.bias)


@pytest.mark.parametrize("weights, bias, match", [
    (np.zeros((2, 4), np.float32), np.zeros(3, np.float32), "do not match"),
    (np.zeros((3, 4), np.float32), np.zeros(2, np.float32), "do not match"),
    (np.full((3, 4), np.nan, np.float32), np.zeros(3, np.float32), "non-finite"),
])
def test_malformed_heads_refused(weights: np.ndarray, bias: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CategoryHead(CATS, weights, bias)


def test_duplicate_categories_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        CategoryHead(("a", "a"), np.zeros((2, 3), np.float32), np.zeros(2, np.float32))


def test_the_classifier_takes_categories_from_its_head_and_tiers_from_centroids() -> None:
    tiers = np.eye(4, dtype=np.float32)[:3]
    clf = CentroidClassifier(("chit_chat", "factual_qa"), np.eye(4, dtype=np.float32)[:2],
                             ("simple", "medium", "complex"), tiers, 0.05)
    vec = np.asarray([0.0, 1.0, 0.0, 0.0], np.float32)
    plain = clf.classify(vec, 3)
    assert plain.category == "factual_qa" and clf.category_source == "centroid"
    trained = replace(clf, category_head=head())
    s = trained.classify(vec, 3)
    assert trained.category_source == "trained"
    assert s.category == "math" and set(s.category_scores) == set(CATS)
    assert s.confidence == pytest.approx(max(s.category_scores.values()), abs=1e-4)
    assert s.complexity == plain.complexity and s.complexity_score == plain.complexity_score
