"""Fit the category head (model/category_head.py) in plain numpy, deterministically.

Two families, both ending as ``softmax(W @ x + b)`` so serving is one matrix product:

* ``logreg``: multinomial logistic regression. Inputs are standardised, weights start at
  zero and full-batch Adam minimises the weighted cross-entropy plus ``l2 * |V|^2 / 2`` for a
  fixed number of steps; the standardiser is then folded into ``W`` and ``b``. No random draw,
  so the same rows give the same weights.
* ``centroid``: weighted class means of the L2-normalised vectors, renormalised, divided by a
  temperature (the prototype classifier's form, fitted on the labelled rows).

Row weights (:func:`row_weights`): each class's total weight is ``n_c ** (1 - balance)``
(``balance`` 1: every class weighs the same, 0: as often as it occurs), shared equally by the
groups (``file:task``) inside the class, so one big task does not speak for its class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routeiq_sidecar.model.category_head import CategoryHead


def row_weights(y: np.ndarray, groups: Sequence[str], n_classes: int, balance: float,
                prototype_share: float | None = None) -> np.ndarray:
    """Per-row weights with mean 1 (see the module docstring). ``prototype_share``: the part
    of a class's weight its prototype group (``prototypes:...``) gets when the class also has
    file rows (None: an equal share, like any group)."""
    y = np.asarray(y, np.int64)
    groups = list(groups)
    w = np.zeros(len(y), np.float64)
    for c in range(n_classes):
        rows = np.flatnonzero(y == c)
        if not len(rows):
            continue
        total = float(len(rows)) ** (1.0 - balance)
        names = sorted({groups[i] for i in rows})
        protos = [g for g in names if g.startswith("prototypes:")]
        others = [g for g in names if g not in protos]
        for g in names:
            mine = rows[[groups[i] == g for i in rows]]
            if prototype_share is None or not protos or not others:
                share = 1.0 / len(names)
            elif g in protos:
                share = prototype_share / len(protos)
            else:
                share = (1.0 - prototype_share) / len(others)
            w[mine] = total * share / len(mine)
    return np.asarray(w * len(y) / w.sum())


def fit_logreg(x: np.ndarray, y: np.ndarray, w: np.ndarray, categories: tuple[str, ...], *,
               l2: float, steps: int = 300, lr: float = 0.05) -> CategoryHead:
    x = np.asarray(x, np.float64)
    n, d = x.shape
    c = len(categories)
    mu = (w[:, None] * x).sum(0) / w.sum()
    sd = np.sqrt((w[:, None] * (x - mu) ** 2).sum(0) / w.sum()) + 1e-6
    z = ((x - mu) / sd).astype(np.float32)  # float32 products: several times faster
    onehot = np.zeros((n, c), np.float32)
    onehot[np.arange(n), y] = 1.0
    ww = (w / w.sum()).astype(np.float32)[:, None]
    params = [np.zeros((c, d), np.float32), np.zeros(c, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        logits = z @ params[0].T + params[1]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        g = (e / e.sum(axis=1, keepdims=True) - onehot) * ww  # d(weighted mean CE)/d(logits)
        grads = [g.T @ z + l2 * params[0], g.sum(0)]
        for k, gk in enumerate(grads):
            m[k] = b1 * m[k] + (1 - b1) * gk
            v[k] = b2 * v[k] + (1 - b2) * gk * gk
            params[k] -= lr * (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
    weights = params[0].astype(np.float64) / sd
    bias = params[1].astype(np.float64) - weights @ mu
    return CategoryHead(categories, weights.astype(np.float32), bias.astype(np.float32))


def fit_centroids(x: np.ndarray, y: np.ndarray, w: np.ndarray, categories: tuple[str, ...], *,
                  temperature: float) -> CategoryHead:
    x = np.asarray(x, np.float64)
    rows = []
    for c in range(len(categories)):
        mine = y == c
        mean = (w[mine, None] * x[mine]).sum(0) if mine.any() else np.zeros(x.shape[1])
        rows.append(mean / (np.linalg.norm(mean) + 1e-12))
    weights = np.stack(rows) / temperature
    return CategoryHead(categories, weights.astype(np.float32),
                        np.zeros(len(categories), np.float32))


def fit_head(kind: str, x: np.ndarray, y: np.ndarray, groups: Sequence[str],
             categories: tuple[str, ...], params: dict[str, float]) -> CategoryHead:
    """``kind`` logreg (params: balance, l2, steps) or centroid (balance, temperature); both
    take ``prototype_share`` (row_weights)."""
    share = params.get("prototype_share")
    w = row_weights(y, groups, len(categories), float(params["balance"]),
                    None if share is None else float(share))
    if kind == "logreg":
        return fit_logreg(x, y, w, categories, l2=float(params["l2"]),
                          steps=int(params.get("steps", 300)))
    if kind == "centroid":
        return fit_centroids(x, y, w, categories, temperature=float(params["temperature"]))
    raise ValueError(f"unknown category head kind {kind!r}; expected logreg or centroid")
