"""The strategies a bundle offers, built once when it is loaded (then handed to the engine).

Baselines need nothing from the bundle; a trained strategy is offered when the bundle has its
head, and a head that does not load refuses the whole bundle (a reload keeps the old one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.base import BundleHeads, Strategy
from routeiq_sidecar.strategies.baselines import (
    CheapestStrategy,
    LengthStrategy,
    RandomStrategy,
    StrongestStrategy,
)
from routeiq_sidecar.strategies.centroid import CentroidStrategy
from routeiq_sidecar.strategies.difficulty import load_difficulty
from routeiq_sidecar.strategies.ensemble import load_ensemble
from routeiq_sidecar.strategies.knn import load_knn
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.mf import load_mf
from routeiq_sidecar.strategies.mlp import load_mlp
from routeiq_sidecar.strategies.trained import TrainedStrategy, model_index

BASELINES: dict[str, Callable[[], Strategy]] = {
    "centroid": CentroidStrategy,
    "random": RandomStrategy,
    "cheapest": CheapestStrategy,
    "strongest": StrongestStrategy,
    "length": LengthStrategy,
}
HEADS: dict[str, Callable[[BundleHeads, ModelIndex], TrainedStrategy | None]] = {
    "knn": load_knn,
    "mlp": load_mlp,
    "mf": load_mf,
}


class EscalatingHeads(BundleHeads, Protocol):
    """A bundle view that may escalate to another (bundle/loader.py: a cascade's static view)."""

    @property
    def escalation(self) -> BundleHeads | None: ...


@dataclass(frozen=True)
class Strategies:
    by_name: dict[str, Strategy]
    known_models: tuple[str, ...] = ()  # the models the trained heads were trained on
    escalation: Strategies | None = None  # cascade: the MiniLM view's (see with_escalation)

    def trained(self) -> dict[str, TrainedStrategy]:
        return {n: s for n, s in self.by_name.items() if isinstance(s, TrainedStrategy)}


def build_strategies(bundle: BundleHeads) -> Strategies:
    """Every strategy ``bundle`` supports; a head that cannot load is a BundleError naming it."""
    try:
        index = model_index(bundle)
        trained = _trained(bundle, index)
        difficulty = load_difficulty(bundle)
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(
            f"bundle {bundle.path}: cannot load a head ({type(exc).__name__}: {exc})"
        ) from None
    by_name: dict[str, Strategy] = {name: make() for name, make in BASELINES.items()}
    by_name.update(trained)
    if difficulty is not None:
        by_name["difficulty"] = difficulty
    return Strategies(by_name, tuple(sorted(index.models)) if trained else ())


def with_escalation(bundle: EscalatingHeads) -> Strategies:
    """``build_strategies`` of a bundle view and of the view it escalates to (a cascade)."""
    out = build_strategies(bundle)
    if bundle.escalation is None:
        return out
    return replace(out, escalation=build_strategies(bundle.escalation))


def _trained(bundle: BundleHeads, index: ModelIndex) -> dict[str, TrainedStrategy]:
    out: dict[str, TrainedStrategy] = {}
    for name, load in HEADS.items():
        s = load(bundle, index)
        if s is not None:
            out[name] = s
    ensemble = load_ensemble(bundle, index, out)
    if ensemble is not None:
        out["ensemble"] = ensemble
    return out
