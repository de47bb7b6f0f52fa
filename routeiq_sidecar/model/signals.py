"""Signals of a prompt: category, complexity tier and a 0..1 complexity score.

The complexity tier always comes from the prototype centroids; the category from the bundle's
trained category head when it has one (model/category_head.py), else from the centroids."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routeiq_sidecar.model.category_head import CategoryHead
from routeiq_sidecar.types import TIERS, Signals

TIER_VALUE = {"simple": 0.0, "medium": 0.5, "complex": 1.0}


def _softmax(x: list[float]) -> list[float]:
    """Softmax of a short list, in Python floats (float64): numpy's per-call cost would be
    most of the work for a dozen numbers."""
    top = max(x)
    e = [math.exp(v - top) for v in x]
    total = math.fsum(e)
    return [v / total for v in e]


@dataclass(frozen=True)
class CentroidClassifier:
    categories: tuple[str, ...]
    category_centroids: np.ndarray  # (C, dim), rows L2-normalised
    tiers: tuple[str, ...]
    tier_centroids: np.ndarray  # (T, dim)
    temperature: float
    category_head: CategoryHead | None = None  # trained categories; None: the centroids

    @property
    def category_source(self) -> str:
        return "trained" if self.category_head is not None else "centroid"

    @property
    def category_names(self) -> tuple[str, ...]:
        head = self.category_head
        return head.categories if head is not None else self.categories

    def category_probs(self, vec: np.ndarray) -> list[float]:
        head = self.category_head
        if head is not None:
            return _softmax(head.logits(vec).tolist())
        return _softmax(((self.category_centroids @ vec) / self.temperature).tolist())

    @classmethod
    def load(cls, path: Path) -> CentroidClassifier:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                categories=tuple(str(c) for c in z["categories"]),
                category_centroids=z["category_centroids"].astype(np.float32),
                tiers=tuple(str(t) for t in z["tiers"]),
                tier_centroids=z["tier_centroids"].astype(np.float32),
                temperature=float(z["temperature"]),
            )

    def save(self, path: Path) -> None:
        np.savez(
            path,
            categories=np.asarray(self.categories),
            category_centroids=self.category_centroids,
            tiers=np.asarray(self.tiers),
            tier_centroids=self.tier_centroids,
            temperature=np.asarray(self.temperature),
        )

    def classify(self, vec: np.ndarray, estimated_prompt_tokens: int) -> Signals:
        cat_p = self.category_probs(vec)
        names = self.category_names
        tier_p = _softmax(((self.tier_centroids @ vec) / self.temperature).tolist())
        ci = max(range(len(cat_p)), key=cat_p.__getitem__)  # the first of equal maxima
        score = sum(p * TIER_VALUE.get(t, 0.5) for p, t in zip(tier_p, self.tiers, strict=True))
        tier = self.tiers[max(range(len(tier_p)), key=tier_p.__getitem__)]
        return Signals(
            category=names[ci],
            complexity=tier,
            confidence=cat_p[ci],
            complexity_score=score,
            estimated_prompt_tokens=estimated_prompt_tokens,
            category_scores={c: round(p, 4) for c, p in zip(names, cat_p, strict=True)},
        )


def centroids_from(embeddings: dict[str, np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(embeddings)
    rows = []
    for n in names:
        m = embeddings[n].mean(axis=0)
        rows.append(m / (np.linalg.norm(m) + 1e-12))
    return names, np.stack(rows).astype(np.float32)


def order_tiers(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for t in TIERS if t in names) + tuple(n for n in names if n not in TIERS)
