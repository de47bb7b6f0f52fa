"""What every trained strategy shares: a head predicting quality for its trained models, the
candidate matching of strategies/matching.py, and the prior fallback for unknown models.

A head maps a batch of prompts (embeddings ``(n, dim)`` + all structural features
``(n, len(FEATURE_NAMES))``) to ``(n, n_models)`` predicted quality on the 0..1 scale of the
training scores; the same ``predict`` serves one request here and thousands of rows in ``eval``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.base import BundleHeads, QualityEstimate, StrategyInput
from routeiq_sidecar.strategies.features import structural_features
from routeiq_sidecar.strategies.matching import ModelIndex


class QualityHead(Protocol):
    models: tuple[str, ...]

    def predict(self, embeddings: np.ndarray, features: np.ndarray) -> np.ndarray: ...


def model_index(bundle: BundleHeads) -> ModelIndex:
    """The bundle's trained models and aliases, shared by its trained strategies."""
    models = [str(m) for m in bundle.manifest.get("models", [])]
    aliases = bundle.manifest.get("aliases") or {}
    return ModelIndex(models, {str(k): str(v) for k, v in dict(aliases).items()})


def head_models(bundle: BundleHeads, head: dict[str, Any]) -> tuple[str, ...]:
    models = tuple(str(m) for m in head.get("models", bundle.manifest.get("models", [])))
    if not models:
        raise BundleError(f"bundle {bundle.path}: head {head.get('file')} lists no models")
    return models


class TrainedStrategy:
    """A head's predictions for known candidates, the request's priors for the others."""

    def __init__(self, name: str, head: QualityHead, index: ModelIndex) -> None:
        self.name = name
        self.head = head
        self.index = index
        head_pos = {m: j for j, m in enumerate(head.models)}
        # index column (trained model) -> head column; heads may cover a subset of the models
        self._to_head = {i: head_pos.get(m) for i, m in enumerate(index.models)}

    def columns(self, model_names: list[str]) -> list[int | None]:
        out: list[int | None] = []
        for col in self.index.columns(model_names):
            out.append(None if col is None else self._to_head.get(col))
        return out

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        cols = self.columns([c.model for c in inp.candidates])
        quality = inp.priors.astype(np.float64).copy()
        sources = list(inp.prior_sources)
        if any(c is not None for c in cols) and inp.embedding.size:
            feats = structural_features(inp.text)[None, :]
            pred = self.head.predict(inp.embedding[None, :].astype(np.float32), feats)[0]
            for i, col in enumerate(cols):
                if col is not None:
                    quality[i] = float(pred[col])
                    sources[i] = self.name
        known = sum(c is not None for c in cols)
        return QualityEstimate(
            quality=np.clip(quality, 0.0, 1.0),
            sources=tuple(sources),
            note=f"{self.name} head ({known} of {len(cols)} candidates known to it)",
        )
