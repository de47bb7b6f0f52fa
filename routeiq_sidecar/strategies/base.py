"""The strategy contract: turn a prompt (embedding + signals) into predicted quality per candidate.

A strategy knows nothing of transports or state; the decision rule turns its qualities into a
choice (see engine/decide.py), as a RouteLLM router turns a score into a choice by threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from routeiq_sidecar.text import SelectedText
from routeiq_sidecar.types import CandidateSpec, Signals


def unit(v: float) -> float:
    """``v`` clipped to 0..1 in Python floats (NaN stays NaN, as with ``np.clip``)."""
    return 0.0 if v < 0.0 else 1.0 if v > 1.0 else v


@dataclass(frozen=True)
class StrategyInput:
    embedding: np.ndarray  # (dim,) L2-normalised
    text: SelectedText
    signals: Signals
    candidates: tuple[CandidateSpec, ...]
    priors: np.ndarray  # capability prior per candidate, 0..1 (strategies/priors.py)
    prior_sources: tuple[str, ...]
    seed: int  # stable per request (random baseline)


@dataclass(frozen=True)
class QualityEstimate:
    quality: np.ndarray  # (n_candidates,) 0..1
    sources: tuple[str, ...]  # where each number came from: head, prior, price, ...
    cost_aware: bool = True  # False: the rule ignores cost (lambda 0), e.g. `strongest`
    note: str = ""  # half a sentence for the decision's reason


class BundleHeads(Protocol):
    """What strategies read from a loaded bundle (bundle/loader.py's ``LoadedBundle``): its
    folder, manifest, a head's manifest entry and the encoder's width."""

    @property
    def path(self) -> Path: ...

    @property
    def manifest(self) -> Mapping[str, Any]: ...

    @property
    def embedding_dim(self) -> int: ...

    def head(self, name: str) -> dict[str, Any] | None: ...

    def file(self, name: object) -> Path:
        """A file the manifest names, inside the bundle folder (BundleError otherwise)."""
        ...


class Strategy(Protocol):
    name: str

    def predict(self, inp: StrategyInput) -> QualityEstimate: ...


def runs_inline(strategy: Strategy) -> bool:
    """True for strategies whose ``predict`` is short and bounded (an attribute
    ``runs_inline = True``): the engine calls them on the event loop, where the hop to a worker
    thread and back would cost more than the prediction (engine/ranking.py)."""
    return bool(getattr(strategy, "runs_inline", False))


def uses_embedding(strategy: Strategy) -> bool:
    """False for strategies that ignore the prompt's vector and signals (a class attribute
    ``uses_embedding = False``): a cascade never runs MiniLM for them."""
    return bool(getattr(strategy, "uses_embedding", True))
