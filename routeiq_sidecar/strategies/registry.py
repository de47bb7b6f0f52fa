"""Strategies registered by name. A factory gets the loaded bundle and returns the strategy, or
None when the bundle lacks what it needs (e.g. a trained head): such names are not offered."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from routeiq_sidecar.strategies.base import Strategy
from routeiq_sidecar.strategies.baselines import (
    CheapestStrategy,
    LengthStrategy,
    RandomStrategy,
    StrongestStrategy,
)
from routeiq_sidecar.strategies.centroid import CentroidStrategy
from routeiq_sidecar.strategies.ensemble import ensemble_factory
from routeiq_sidecar.strategies.knn import knn_factory
from routeiq_sidecar.strategies.mf import mf_factory
from routeiq_sidecar.strategies.mlp import mlp_factory

if TYPE_CHECKING:
    from routeiq_sidecar.bundle.loader import LoadedBundle

Factory = Callable[["LoadedBundle"], Strategy | None]

FACTORIES: dict[str, Factory] = {
    "centroid": lambda b: CentroidStrategy(),
    "random": lambda b: RandomStrategy(),
    "cheapest": lambda b: CheapestStrategy(),
    "strongest": lambda b: StrongestStrategy(),
    "length": lambda b: LengthStrategy(),
    "knn": knn_factory,
    "mlp": mlp_factory,
    "mf": mf_factory,
    "ensemble": ensemble_factory,
}


def register(name: str, factory: Factory) -> None:
    FACTORIES[name] = factory


def build_strategies(bundle: LoadedBundle) -> dict[str, Strategy]:
    out: dict[str, Strategy] = {}
    for name, factory in FACTORIES.items():
        s = factory(bundle)
        if s is not None:
            out[name] = s
    return out
