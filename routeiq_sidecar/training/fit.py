"""Fit the trained heads: hyper-parameters chosen on a validation split of the training rows,
then the final head refitted on all training rows.

Validation rows come from the training split only (test rows never reach this module). The
score is the mean pairwise APGR of training/pairs.py. Grids are small and fixed, every draw is
seeded, so the same data and seed give the same heads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routeiq_sidecar.progress import progress
from routeiq_sidecar.strategies.features import feature_columns
from routeiq_sidecar.strategies.knn import KnnHead
from routeiq_sidecar.training.nn import QualityNet, TrainConfig, fit
from routeiq_sidecar.training.pairs import mean_pair_apgr

KNN_K = (10, 25, 50, 100, 200)
KNN_TEMPERATURE = (0.02, 0.05, 0.1, 10.0)  # 10: practically uniform weights
KNN_SHRINK = (1.0,)
NET_GRID: dict[str, dict[str, tuple[float, ...]]] = {
    "mlp": {"weight_decay": (1e-3, 1e-2, 3e-2)},
    "mf": {"weight_decay": (1e-3, 1e-2, 3e-2)},
}
NET_WIDTH = {"mlp": 128, "mf": 32}
MAX_EPOCHS = 30


@dataclass
class Rows:
    """One side of a split: embeddings, all structural features, scores (NaN = missing)."""

    embeddings: np.ndarray
    features: np.ndarray
    scores: np.ndarray


@dataclass
class Fitted:
    name: str
    head: KnnHead | QualityNet
    params: dict[str, Any]
    validation: float
    history: list[float] = field(default_factory=list)
    val_pred: np.ndarray | None = None  # the chosen configuration's validation predictions


def net_inputs(rows: Rows, features: list[str]) -> np.ndarray:
    return np.concatenate([rows.embeddings, rows.features[:, feature_columns(features)]], axis=1)


def fit_knn(models: tuple[str, ...], train: Rows, val: Rows) -> Fitted:
    best: tuple[float, dict[str, float | int]] = (-np.inf, {})
    best_pred: np.ndarray | None = None
    grid = list(itertools.product(KNN_K, KNN_TEMPERATURE, KNN_SHRINK))
    for k, t, s in progress(grid, desc="knn grid", unit="config"):
        head = KnnHead.from_matrix(models, train.embeddings, train.scores,
                                   k=k, temperature=t, shrink=s)
        pred = head.predict(val.embeddings)
        v = mean_pair_apgr(pred, val.scores)
        if v > best[0]:
            best, best_pred = (v, {"k": k, "temperature": t, "shrink": s}), pred
    both = _concat(train, val)
    head = KnnHead.from_matrix(models, both.embeddings, both.scores, **best[1])
    return Fitted("knn", head, dict(best[1]), float(best[0]), val_pred=best_pred)


def fit_net(kind: str, train: Rows, val: Rows, features: list[str], seed: int) -> Fitted:
    x_tr, x_val = net_inputs(train, features), net_inputs(val, features)
    best: tuple[float, int, dict[str, float]] = (-np.inf, MAX_EPOCHS, {})
    best_history: list[float] = []
    best_pred: np.ndarray | None = None
    for values in itertools.product(*NET_GRID[kind].values()):
        hp = dict(zip(NET_GRID[kind], values, strict=True))
        cfg = TrainConfig(kind=kind, width=NET_WIDTH[kind], epochs=MAX_EPOCHS, **hp)  # type: ignore[arg-type]
        preds: list[np.ndarray] = []

        def on_epoch(_epoch: int, net: QualityNet, preds: list[np.ndarray] = preds) -> float:
            preds.append(net.forward(x_val))
            return mean_pair_apgr(preds[-1], val.scores)

        _, history = fit(x_tr, train.scores, cfg, seed=seed, on_epoch=on_epoch)
        scores = np.nan_to_num(np.asarray(history), nan=-np.inf)
        epoch = int(np.argmax(scores)) + 1
        if scores[epoch - 1] > best[0]:
            best, best_history = (float(scores[epoch - 1]), epoch, hp), history
            best_pred = preds[epoch - 1]
    value, epochs, hp = best
    cfg = TrainConfig(kind=kind, width=NET_WIDTH[kind], epochs=epochs, **hp)  # type: ignore[arg-type]
    both = _concat(train, val)
    net, _ = fit(net_inputs(both, features), both.scores, cfg, seed=seed)
    params: dict[str, float | int | str | list[str]] = {
        "width": cfg.width, "epochs": epochs, "lr": cfg.lr, "batch": cfg.batch,
        "features": list(features), **hp,
    }
    return Fitted(kind, net, params, value, best_history, best_pred)


def fit_ensemble(members: list[Fitted], val: Rows) -> Fitted | None:
    """The equal-weight mean of two or more heads' predictions (each already a calibrated
    probability), over the subset of heads that scores best on the validation rows."""
    preds = {m.name: m.val_pred for m in members if m.val_pred is not None}
    best: tuple[float, tuple[str, ...]] = (-np.inf, ())
    for size in range(2, len(preds) + 1):
        for combo in itertools.combinations(preds, size):
            v = mean_pair_apgr(np.mean([preds[n] for n in combo], axis=0), val.scores)
            if v > best[0]:
                best = (v, combo)
    if not best[1]:
        return None
    names = list(best[1])
    params: dict[str, Any] = {"members": names, "weights": [round(1 / len(names), 6)] * len(names)}
    first = next(m for m in members if m.name == names[0])
    return Fitted("ensemble", first.head, params, float(best[0]),
                  val_pred=np.mean([preds[n] for n in names], axis=0))


def _concat(a: Rows, b: Rows) -> Rows:
    return Rows(np.concatenate([a.embeddings, b.embeddings]),
                np.concatenate([a.features, b.features]),
                np.concatenate([a.scores, b.scores]))
