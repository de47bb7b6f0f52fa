"""The routers of one leave-one-file-out fold, fitted on the training files and served on the
left-out pair (training/transfer.py; how candidates are served: training/transfer_served.py).

* ``difficulty``: the shipped default's head (training/difficulty.py, leave-one-out defaults);
  ``difficulty/knn`` its kNN part alone (``blend`` 1);
* ``centroid``: the old zero-config default's complexity score, served as `centroid` does;
* ``knn``, ``mlp``, ``mf``, ``ensemble``: the heads ``train`` fits, trained by ``train`` itself
  (``--split none``, every row of the training files pooled) into a scratch bundle, then loaded
  as the server loads them;
* ``structural``, ``irt``, ``mf_desc``: the eval-only baselines of
  training/transfer_baselines.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.strategies.difficulty import DifficultyHead
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.strategies.trained import TrainedStrategy
from routeiq_sidecar.training.difficulty import FilePart, fit_difficulty
from routeiq_sidecar.training.train import TRAINED_STRATEGIES, TrainOptions, train_bundle
from routeiq_sidecar.training.transfer_baselines import (
    DifficultyScore,
    MfDescriptor,
    fit_irt,
    fit_mf_descriptor,
    fit_structural,
    prompt_inputs,
)
from routeiq_sidecar.training.transfer_served import (
    difficulty_abilities,
    priors,
    served_difficulty,
    served_trained,
)
from routeiq_sidecar.types import CandidateSpec

PRODUCT = ("difficulty", "difficulty/knn", "centroid", "knn", "mlp", "mf", "ensemble")
BASELINES = ("structural", "irt", "mf_desc")
ROUTERS = (*PRODUCT, *BASELINES)


@dataclass
class Prompts:
    """The evaluated rows: embeddings, estimated tokens, the heads' structural features
    (strategies/features.py), training/transfer_features.py's table, the centroid score."""

    embeddings: np.ndarray
    tokens: np.ndarray
    features: np.ndarray
    structural: np.ndarray
    centroid: np.ndarray


@dataclass
class Routers:
    difficulty: DifficultyHead
    trained: dict[str, TrainedStrategy]
    structural: DifficultyScore | None
    irt: DifficultyScore | None
    mf_desc: MfDescriptor | None


def trained_heads(paths: Sequence[Path], bundle: LoadedBundle, *, cache: Path | None,
                  precision: str, seed: int, limit: int | None) -> dict[str, TrainedStrategy]:
    """``train --split none --data <paths>`` into a scratch bundle; its trained strategies."""
    with tempfile.TemporaryDirectory(prefix="routeiq-loo-") as tmp:
        out = Path(tmp) / "bundle"
        train_bundle(TrainOptions(data=tuple(paths), out=out, base_bundle=bundle.path,
                                  strategies=TRAINED_STRATEGIES, split="none", seed=seed,
                                  limit=limit, cache_dir=cache, precision=precision,
                                  encoder=bundle.kind), base=bundle)
        loaded = load_bundle(out, precision=precision, encoder=bundle.kind)
        return build_strategies(loaded).trained()


def fit_routers(parts: Sequence[FilePart], structural: Sequence[np.ndarray],
                paths: Sequence[Path], bundle: LoadedBundle, *, cache: Path | None,
                precision: str, seed: int, params: dict[str, Any], limit: int | None,
                full: bool = True) -> Routers:
    """Every router of a fold (``full`` False: the difficulty head only)."""
    head = fit_difficulty(parts, seed=seed, **params)
    if not full:
        return Routers(head, {}, None, None, None)
    return Routers(head,
                   trained_heads(paths, bundle, cache=cache, precision=precision, seed=seed,
                                 limit=limit),
                   fit_structural(parts, structural), fit_irt(parts, seed),
                   fit_mf_descriptor(parts, seed))


def route(r: Routers, p: Prompts, cands: tuple[CandidateSpec, ...]) -> dict[str, np.ndarray]:
    """``{router: (rows, candidates) quality}`` of every fitted router."""
    ability = difficulty_abilities(r.difficulty, cands)
    knn = r.difficulty.neighbours(p.embeddings) if r.difficulty.uses_knn else None
    out = {
        "difficulty": served_difficulty(r.difficulty.difficulty(p.embeddings, p.tokens, knn),
                                        ability),
        "centroid": served_difficulty(p.centroid, priors(cands)),
    }
    if knn is not None:
        out["difficulty/knn"] = served_difficulty(
            replace(r.difficulty, blend=1.0).difficulty(p.embeddings, p.tokens, knn), ability)
    for name, strategy in r.trained.items():
        out[name] = served_trained(strategy, p.embeddings, p.features, cands)
    x = prompt_inputs(p.embeddings, p.tokens)
    if r.structural is not None:
        out["structural"] = served_difficulty(r.structural.difficulty(p.structural), ability)
    if r.irt is not None:
        out["irt"] = served_difficulty(r.irt.difficulty(x), ability)
    if r.mf_desc is not None:
        out["mf_desc"] = r.mf_desc.quality(x, [c.model for c in cands], ability)
    return {name: out[name] for name in ROUTERS if name in out}
