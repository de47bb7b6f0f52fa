"""What a user gets from a strategy by sending a left-out file's strong/weak pair as candidates
(training/transfer.py), batched over the file's rows.

The candidates carry what the user would know, in three settings:

* ``prices``: each model's price from the file (its per-prompt costs over the rows' estimated
  prompt tokens, as $ per million tokens), or "price unknown" when the file has no costs;
* ``declared``: the same plus a declared ``quality_prior`` (0.95 for the strong model, 0.50 for
  the weak one): the user says which model is the stronger;
* ``names``: the model names alone, neither price nor prior (an unpriced candidate is priced
  from what its name says, model_names.py, where it says a size or tier).

A model a trained head does not know gets the request's prior (strategies/priors.py); a model it
knows gets the head's prediction, exactly as ``TrainedStrategy.predict`` and
``DifficultyStrategy.predict`` do per request (tests/unit/training/test_transfer_served.py checks
the batch against them). A prompt-difficulty score ``d`` is served by the rule
``1 - d * (1 - ability)``. The router score for the pair is ``quality[strong] - quality[weak]``;
a strategy that gives every prompt the same score is reported as ``constant``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from routeiq_sidecar.strategies.difficulty import DifficultyHead, DifficultyStrategy, quality
from routeiq_sidecar.strategies.priors import HIGH_Q, LOW_Q, capability_priors
from routeiq_sidecar.strategies.trained import TrainedStrategy
from routeiq_sidecar.training.metrics import multi_report, pair_curve, pair_summary, rounded
from routeiq_sidecar.types import CandidateSpec

SETTINGS = ("declared", "prices", "names")


def pair_candidates(models: Sequence[str], costs: np.ndarray, tokens: np.ndarray,
                    setting: str) -> tuple[CandidateSpec, ...]:
    """One candidate per model (strong first) as sent in ``setting`` (one of ``SETTINGS``):
    ``costs`` ``(n, len(models))`` $ per prompt (NaN = unknown), ``tokens`` the rows'
    estimated prompt tokens."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {', '.join(SETTINGS)}, not {setting!r}")
    out = []
    for j, model in enumerate(models):
        known = np.isfinite(costs[:, j]) & (setting != "names")
        prior = (HIGH_Q if j == 0 else LOW_Q) if setting == "declared" else None
        if known.any():
            price = float(costs[known, j].sum() / tokens[known].sum() * 1e6)
            out.append(CandidateSpec(id=model, model=model, input_cost_per_mtok=price,
                                     output_cost_per_mtok=price, quality_prior=prior))
        else:
            out.append(CandidateSpec(id=model, model=model, quality_prior=prior,
                                     price_known=False))
    return tuple(out)


def priors(cands: tuple[CandidateSpec, ...]) -> np.ndarray:
    return capability_priors(cands)[0]


def difficulty_abilities(head: DifficultyHead, cands: tuple[CandidateSpec, ...]) -> np.ndarray:
    """The `difficulty` strategy's descriptors, as it serves them (learned, declared, placed by
    a known sibling, or the price prior)."""
    values, sources = capability_priors(cands)
    return np.asarray(DifficultyStrategy(head).descriptors(cands, values.tolist(), sources)[0])


def served_difficulty(d: np.ndarray, ability: np.ndarray) -> np.ndarray:
    """``(n, candidates)`` quality of prompts of difficulty ``d`` (0..1)."""
    return np.asarray(np.clip(quality(d, ability), 0.0, 1.0))


def served_trained(strategy: TrainedStrategy, embeddings: np.ndarray, features: np.ndarray,
                   cands: tuple[CandidateSpec, ...]) -> np.ndarray:
    """``(n, candidates)``: the head's prediction for the models it knows, else the prior."""
    cols = strategy.columns([c.model for c in cands])
    out = np.tile(priors(cands), (embeddings.shape[0], 1))
    if any(c is not None for c in cols):
        pred = strategy.head.predict(np.asarray(embeddings, np.float32), features)
        for i, col in enumerate(cols):
            if col is not None:
                out[:, i] = pred[:, col]
    return np.asarray(np.clip(out, 0.0, 1.0))


def pair_figures(q: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> dict[str, Any]:
    """APGR, CPT(50), CPT(80) of the router score ``q[:, 0] - q[:, 1]``; ``constant`` when it
    ranks no prompt above another (its curve is then the diagonal, APGR 0.5)."""
    score = q[:, 0] - q[:, 1]
    out: dict[str, Any] = {k: rounded(v) for k, v in pair_summary(
        pair_curve(score, strong, weak)).items()}
    out["constant"] = bool(np.ptp(score) <= 1e-12)
    return out


def pair_aiq(q: np.ndarray, scores: np.ndarray, costs: np.ndarray) -> dict[str, float | None]:
    """The router's AIQ over the pair's quality-cost sweep, with random mixing's and the
    oracle's (training/metrics.py ``multi_report``); ``scores``/``costs`` ``(n, 2)``."""
    rep = multi_report(q, scores, costs, models=["strong", "weak"])
    return {"router": rounded(rep["router"]["aiq"]), "random": rounded(rep["random"]["aiq"]),
            "oracle": rounded(rep["oracle"]["aiq"])}
