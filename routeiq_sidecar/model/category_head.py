"""The trained category head: ``softmax(W @ vec + b)`` over the category set.

Fitted on the task labels of the outcome files plus the prototype prompts
(training/category_fit.py, scripts/train_category_head.py) and shipped in the default bundle
(``category.npz``; ``static.category.npz`` for the static encoder). Serving cost is one
``(C, dim)`` matrix-vector product. A bundle without it classifies categories with the
prototype centroids (model/signals.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 1-D or 2-D array of logits."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class CategoryHead:
    categories: tuple[str, ...]
    weights: np.ndarray  # (C, dim) float32
    bias: np.ndarray  # (C,) float32

    def __post_init__(self) -> None:
        c = len(self.categories)
        if self.weights.ndim != 2 or self.weights.shape[0] != c or self.bias.shape != (c,):
            raise ValueError(
                f"category head: weights {self.weights.shape} and bias {self.bias.shape} do "
                f"not match {c} categories"
            )
        if len(set(self.categories)) != c or c < 2:
            raise ValueError("category head: categories must be at least two distinct names")
        if not (np.isfinite(self.weights).all() and np.isfinite(self.bias).all()):
            raise ValueError("category head: non-finite weights")

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def logits(self, vecs: np.ndarray) -> np.ndarray:
        """``(n, C)`` (or ``(C,)`` for one vector) logits."""
        return np.asarray(np.asarray(vecs, np.float32) @ self.weights.T + self.bias)

    def probs(self, vecs: np.ndarray) -> np.ndarray:
        return softmax_rows(self.logits(vecs))

    def predict(self, vecs: np.ndarray) -> list[str]:
        return [self.categories[i] for i in np.atleast_2d(self.logits(vecs)).argmax(axis=1)]

    @classmethod
    def load(cls, path: Path) -> CategoryHead:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                categories=tuple(str(c) for c in z["categories"]),
                weights=z["weights"].astype(np.float32),
                bias=z["bias"].astype(np.float32),
            )

    def save(self, path: Path) -> None:
        with Path(path).open("wb") as fh:
            np.savez(fh, categories=np.asarray(self.categories), weights=self.weights,
                     bias=self.bias)
