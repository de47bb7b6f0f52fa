"""`ensemble`: the weighted mean of trained heads' predictions (a calibrated combination).

Every member head predicts a probability on the 0..1 scale of the training scores (trained
with cross-entropy, or a neighbour average), so their mean stays on that scale. ``train``
adds it when two or more heads were trained, keeping the subset of heads whose equal-weight
mean scores best on the validation rows (training/fit.py); the manifest lists the members
and weights, there is no file of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.base import BundleHeads
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.trained import QualityHead, TrainedStrategy


class EnsembleHead:
    def __init__(self, heads: list[QualityHead], weights: list[float]) -> None:
        self.models = heads[0].models
        self.heads = heads
        total = float(sum(weights))
        self.weights = [w / total for w in weights]

    def predict(self, embeddings: np.ndarray, features: np.ndarray) -> np.ndarray:
        out = np.zeros((embeddings.shape[0], len(self.models)))
        for head, w in zip(self.heads, self.weights, strict=True):
            out += w * head.predict(embeddings, features)
        return out


def load_ensemble(
    bundle: BundleHeads, index: ModelIndex, members: Mapping[str, TrainedStrategy]
) -> TrainedStrategy | None:
    """The ensemble over ``members``, the bundle's other trained strategies (built first)."""
    spec = bundle.head("ensemble")
    if spec is None:
        return None
    names = [str(n) for n in spec.get("members", [])]
    weights = [float(w) for w in spec.get("weights", [1.0] * len(names))]
    if len(names) < 2 or len(weights) != len(names) or min(weights) < 0 or sum(weights) <= 0:
        raise BundleError(f"bundle {bundle.path}: ensemble needs >= 2 members with weights >= 0")
    heads: list[QualityHead] = []
    for n in names:
        member = members.get(n)
        if member is None:
            raise BundleError(f"bundle {bundle.path}: ensemble member {n!r} is not in the bundle")
        heads.append(member.head)
    if any(h.models != heads[0].models for h in heads):
        raise BundleError(f"bundle {bundle.path}: ensemble members cover different models")
    return TrainedStrategy("ensemble", EnsembleHead(heads, weights), index)
