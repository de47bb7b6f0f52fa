"""Fit the `difficulty` head (strategies/difficulty.py) on one or several outcome files.

Per file (so files with different model sets and score scales pool):

* target: the prompt's failure rate ``1 - mean score over the file's models``, z-scored within
  the file; a prompt every model of its file got right is easy, one most got wrong is hard;
* weight: ``1 / rows of the file``, so each file counts the same however large;
* at most ``max_rows`` prompts per file are kept as kNN memory (a seeded draw), which bounds
  the head's size (float16 embeddings);
* abilities: each model's mean score on its file, as its standing between the file's weakest
  (0.50) and strongest (0.95) model; a model in several files gets the mean of its standings.
  A standing is relative to its file, so the strategy applies it as a shift of the model's own
  price prior (strategies/difficulty.py ``standing_shift``), not as an ability on its own.

The kNN estimate's mean and spread are taken on the kept prompts, each prompt's estimate
leaving itself out (it would otherwise be its own nearest neighbour).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from routeiq_sidecar.strategies.difficulty import DifficultyHead
from routeiq_sidecar.strategies.priors import HIGH_Q, LOW_Q

# picked by the leave-one-file-out score (bench/transfer.py --grid; max_rows by --rows-grid:
# 1,000 per file scores as 4,000 did on both encoders and the neighbour scan reads a quarter)
DEFAULTS = {"k": 10, "temperature": 0.05, "blend": 0.1, "max_rows": 1000}
# The similarity gate, per encoder kind, picked by the same score (bench/transfer.py
# --gate-grid [--encoder static]): MiniLM's cosines set prompts seen in training (mean cosine
# of the 10 nearest >= 0.75: 2-6% of a left-out file) apart from new ones; the static
# encoder's cosines are high for most pairs and no threshold beat the gate off.
GATES: dict[str, dict[str, float]] = {"minilm": {"gate": 0.75, "gate_weight": 1.0}}
NO_GATE = {"gate": math.inf, "gate_weight": 0.0}


def gate_params(kind: str) -> tuple[float, float]:
    """``(gate, gate_weight)`` for vectors of encoder ``kind`` (``minilm`` or ``static``)."""
    g = GATES.get(kind, NO_GATE)
    return g["gate"], g["gate_weight"]


def defaults(kind: str) -> dict[str, float]:
    """Every fitting parameter of the head for vectors of encoder ``kind``."""
    return {**DEFAULTS, **GATES.get(kind, NO_GATE)}


@dataclass
class FilePart:
    """One file's training rows: embeddings, estimated prompt tokens, scores (NaN = missing)."""

    name: str
    embeddings: np.ndarray
    tokens: np.ndarray
    scores: np.ndarray
    models: tuple[str, ...]


def failure_target(scores: np.ndarray) -> np.ndarray:
    obs = np.isfinite(scores)
    n = obs.sum(axis=1)
    fail = 1.0 - np.where(obs, scores, 0.0).sum(axis=1) / np.maximum(n, 1)
    fail = np.where(n > 0, fail, np.nan)
    mean, std = np.nanmean(fail), np.nanstd(fail)
    target: np.ndarray = np.nan_to_num((fail - mean) / (std if std > 1e-9 else 1.0))
    return target


def abilities(parts: Sequence[FilePart]) -> tuple[tuple[str, ...], np.ndarray]:
    standing: dict[str, list[float]] = {}
    for part in parts:
        obs = np.isfinite(part.scores)
        means = np.where(obs, part.scores, 0.0).sum(0) / np.maximum(obs.sum(0), 1)
        ok = obs.sum(0) > 0
        lo, hi = float(means[ok].min()), float(means[ok].max())
        for j, m in enumerate(part.models):
            if ok[j]:
                rel = (means[j] - lo) / (hi - lo) if hi > lo else 0.5
                standing.setdefault(m, []).append(LOW_Q + (HIGH_Q - LOW_Q) * float(rel))
    models = tuple(sorted(standing))
    return models, np.asarray([np.mean(standing[m]) for m in models], np.float64)


def _loo_knn(head: DifficultyHead) -> np.ndarray:
    """Each stored prompt's kNN estimate with itself left out."""
    emb, k = head.embeddings, head.k
    out = np.empty(emb.shape[0])
    for i in range(0, emb.shape[0], 512):
        sims = emb[i : i + 512] @ emb.T
        rows = np.arange(sims.shape[0])
        sims[rows, i + rows] = -np.inf
        kk = min(k, emb.shape[0] - 1)
        idx = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        top = np.take_along_axis(sims, idx, axis=1)
        w = np.exp((top - top.max(axis=1, keepdims=True)) / head.temperature) * head.weights[idx]
        out[i : i + 512] = (w * head.targets[idx]).sum(1) / w.sum(1)
    return out


def fit_difficulty(parts: Sequence[FilePart], *, seed: int = 0, k: int = 10,
                   temperature: float = 0.05, blend: float = 0.1,
                   max_rows: int = 1000, gate: float = math.inf,
                   gate_weight: float = 0.0) -> DifficultyHead:
    rng = np.random.default_rng(seed)
    emb, tgt, wts, toks = [], [], [], []
    for part in parts:
        target = failure_target(part.scores)
        keep = np.arange(len(target))
        if len(keep) > max_rows:
            keep = np.sort(rng.choice(len(keep), max_rows, replace=False))
        emb.append(part.embeddings[keep])
        tgt.append(target[keep])
        wts.append(np.full(len(keep), 1.0 / len(keep)))
        toks.append(np.asarray(part.tokens, np.float64)[keep])
    weights = np.concatenate(wts)
    weights *= len(weights) / weights.sum()
    models, ability = abilities(parts)
    tokens = np.concatenate(toks).astype(np.float64)
    length = np.log(np.maximum(tokens, 1.0))
    head = DifficultyHead(np.concatenate(emb).astype(np.float32), np.concatenate(tgt),
                          weights, np.asarray([length.mean(), length.std() or 1.0, 0.0, 1.0]),
                          models, ability, k, temperature, blend, gate, gate_weight)
    est = _loo_knn(head)
    head.standard[2:] = (est.mean(), est.std() or 1.0)
    return head


def difficulty_params(head: DifficultyHead) -> dict[str, Any]:
    """The manifest entry's description of a fitted head."""
    return {"k": head.k, "temperature": head.temperature, "blend": round(head.blend, 6),
            "gate": head.gate if math.isfinite(head.gate) else None,
            "gate_weight": head.gate_weight,
            "rows": int(head.embeddings.shape[0]), "models": list(head.models),
            "abilities": [round(float(a), 4) for a in head.abilities]}
