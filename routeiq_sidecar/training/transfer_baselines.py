"""Eval-only baselines of the leave-one-file-out table (issue 13, sections 1 and 3), trained on
the pooled training files, each file weighing the same however many rows it has:

* ``structural``: a ridge on the structural features of training/transfer_features.py,
  predicting the per-file z-scored failure rate (the `difficulty` head's target);
* ``irt``: a one-parameter item-response model ``P(model m right on prompt i) =
  sigmoid(theta_m - b_i)`` fitted on every score of the training files (models matched by name
  across files), then ``b`` (the prompt's difficulty) regressed from the embedding and the log
  token count, so a new prompt gets one;
* ``mf_desc``: matrix factorisation with model embeddings, ``sigmoid(<u(x), v_m> + c_m)`` with
  ``u(x)`` a linear projection of the embedding and log tokens; a model it never saw gets
  ``(v, c)`` from a linear fit of the learned ``(v_m, c_m)`` on the models' descriptor (their
  ability, training/difficulty.py's standing), so it can score any candidate list.

``structural`` and ``irt`` give a prompt difficulty in 0..1; training/transfer_served.py serves
it with the `difficulty` strategy's rule ``1 - d * (1 - ability)``. Not shipped strategies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.training.difficulty import FilePart, abilities, failure_target
from routeiq_sidecar.training.nn import sigmoid

RIDGE_ALPHA = 100.0  # on standardised inputs, file-balanced weights summing to the row count
IRT_STEPS, MF_STEPS = 300, 300
MF_DIM = 8


def file_weights(parts: Sequence[FilePart]) -> np.ndarray:
    """``(rows,)``: each file the same total weight, mean weight 1."""
    w = np.concatenate([np.full(len(p.tokens), 1.0 / max(1, len(p.tokens))) for p in parts])
    out: np.ndarray = w * (len(w) / float(w.sum()))
    return out


def _log_tokens(parts: Sequence[FilePart]) -> np.ndarray:
    tokens = np.concatenate([np.asarray(p.tokens, np.float64) for p in parts])
    return np.asarray(np.log(np.maximum(tokens, 1.0)))


def prompt_inputs(embeddings: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """The embedding joined with the log token count."""
    logt = np.log(np.maximum(np.asarray(tokens, np.float64), 1.0))[:, None]
    return np.concatenate([np.asarray(embeddings, np.float64), logt], axis=1)


@dataclass
class Ridge:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(((x - self.mean) / self.scale) @ self.coef + self.intercept)


def fit_ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float = RIDGE_ALPHA) -> Ridge:
    """Weighted ridge regression on standardised inputs (closed form)."""
    w = np.asarray(w, np.float64)
    mean = (w[:, None] * x).sum(0) / w.sum()
    scale = np.sqrt((w[:, None] * (x - mean) ** 2).sum(0) / w.sum())
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    y_mean = float((w * y).sum() / w.sum())
    a = (z * w[:, None]).T @ z + alpha * np.eye(z.shape[1])
    coef = np.linalg.solve(a, (z * w[:, None]).T @ (y - y_mean))
    return Ridge(mean, scale, coef, y_mean)


@dataclass
class DifficultyScore:
    """A ridge whose prediction (higher = harder) maps to 0..1 by ``0.5 + 0.5 tanh(z)``,
    ``z`` standardised over the training prompts' predictions."""

    ridge: Ridge
    centre: float
    spread: float

    def difficulty(self, x: np.ndarray) -> np.ndarray:
        z = (self.ridge.predict(x) - self.centre) / self.spread
        return np.asarray(0.5 + 0.5 * np.tanh(z))


def _scored(ridge: Ridge, x: np.ndarray, w: np.ndarray) -> DifficultyScore:
    pred = ridge.predict(x)
    centre = float((w * pred).sum() / w.sum())
    spread = float(np.sqrt((w * (pred - centre) ** 2).sum() / w.sum()))
    return DifficultyScore(ridge, centre, spread if spread > 1e-9 else 1.0)


def fit_structural(parts: Sequence[FilePart], features: Sequence[np.ndarray]) -> DifficultyScore:
    """Ridge from structural features (per part, training/transfer_features.py) to failure."""
    x = np.concatenate(list(features))
    y = np.concatenate([failure_target(p.scores) for p in parts])
    w = file_weights(parts)
    return _scored(fit_ridge(x, y, w), x, w)


def _pooled_scores(parts: Sequence[FilePart]) -> tuple[tuple[str, ...], np.ndarray]:
    """``(models, (rows, models))``: every file's scores under the union of model names."""
    models = tuple(sorted({m for p in parts for m in p.models}))
    col = {m: j for j, m in enumerate(models)}
    out = np.full((sum(len(p.tokens) for p in parts), len(models)), np.nan)
    row = 0
    for p in parts:
        n = len(p.tokens)
        for j, m in enumerate(p.models):
            out[row : row + n, col[m]] = p.scores[:, j]
        row += n
    return models, out


class _Adam:
    def __init__(self, lr: float) -> None:
        self.lr, self.step = lr, 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.step += 1
        for k, g in grads.items():
            self.m[k] = 0.9 * self.m.get(k, np.zeros_like(g)) + 0.1 * g
            self.v[k] = 0.999 * self.v.get(k, np.zeros_like(g)) + 0.001 * g * g
            lr = self.lr * np.sqrt(1 - 0.999**self.step) / (1 - 0.9**self.step)
            params[k] = params[k] - lr * self.m[k] / (np.sqrt(self.v[k]) + 1e-8)


def fit_irt_items(scores: np.ndarray, w: np.ndarray, *, steps: int = IRT_STEPS,
                  l2: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(theta (models,), b (rows,))`` of the 1PL model, by weighted Adam on the observed
    scores (soft scores in 0..1 allowed) with an L2 prior on both."""
    obs = np.isfinite(scores)
    y = np.where(obs, scores, 0.0)
    weight = obs * w[:, None]
    total = weight.sum()
    p = {"theta": np.zeros(scores.shape[1]), "b": np.zeros(scores.shape[0])}
    opt = _Adam(0.05)
    for _ in range(steps):
        prob = sigmoid(p["theta"][None, :] - p["b"][:, None])
        g = (prob - y) * weight / total
        opt.update(p, {"theta": g.sum(0) + l2 * p["theta"] / len(p["theta"]),
                       "b": -g.sum(1) + l2 * w * p["b"] / total})
    return p["theta"], p["b"]


def fit_irt(parts: Sequence[FilePart], seed: int = 0) -> DifficultyScore:
    """The 1PL model on the pooled files; ``b`` regressed from embedding + log tokens."""
    _, scores = _pooled_scores(parts)
    w = file_weights(parts)
    _, b = fit_irt_items(scores, w)
    x = np.concatenate([np.asarray(p.embeddings, np.float64) for p in parts])
    x = np.concatenate([x, _log_tokens(parts)[:, None]], axis=1)
    return _scored(fit_ridge(x, b, w), x, w)


@dataclass
class MfDescriptor:
    """MF with model embeddings; unseen models placed by their descriptor (ability)."""

    mean: np.ndarray
    scale: np.ndarray
    proj: np.ndarray  # (inputs, MF_DIM)
    vectors: np.ndarray  # (models, MF_DIM + 1): v_m and the bias c_m
    models: tuple[str, ...]
    by_ability: np.ndarray  # (2, MF_DIM + 1): [1, ability] -> (v, c), least squares

    def quality(self, x: np.ndarray, names: Sequence[str], ability: np.ndarray) -> np.ndarray:
        """``(n, len(names))``: a known model's learned vector, else its descriptor's."""
        index = ModelIndex(self.models)
        cols = index.columns(names)
        vecs = np.stack([self.vectors[c] if c is not None
                         else np.asarray([1.0, float(a)]) @ self.by_ability
                         for c, a in zip(cols, ability, strict=True)])
        u = ((x - self.mean) / self.scale) @ self.proj
        return np.asarray(sigmoid(u @ vecs[:, :-1].T + vecs[:, -1][None, :]))


def fit_mf_descriptor(parts: Sequence[FilePart], seed: int = 0, *, steps: int = MF_STEPS,
                      l2: float = 1e-3) -> MfDescriptor:
    models, scores = _pooled_scores(parts)
    w = file_weights(parts)
    x = np.concatenate([np.asarray(p.embeddings, np.float64) for p in parts])
    x = np.concatenate([x, _log_tokens(parts)[:, None]], axis=1)
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    rng = np.random.default_rng(seed)
    p = {"proj": rng.normal(0, 1 / np.sqrt(z.shape[1]), (z.shape[1], MF_DIM)),
         "vec": rng.normal(0, 0.1, (len(models), MF_DIM + 1))}
    obs = np.isfinite(scores)
    y = np.where(obs, scores, 0.0)
    weight = obs * w[:, None]
    total = weight.sum()
    opt = _Adam(0.01)
    for _ in range(steps):
        u = z @ p["proj"]
        prob = sigmoid(u @ p["vec"][:, :-1].T + p["vec"][:, -1][None, :])
        g = (prob - y) * weight / total  # d(mean weighted BCE)/d(logit)
        gv = np.concatenate([g.T @ u, g.sum(0)[:, None]], axis=1)
        gp = z.T @ (g @ p["vec"][:, :-1])
        opt.update(p, {"proj": gp + l2 * p["proj"], "vec": gv + l2 * p["vec"]})
    known, ability = abilities(parts)
    standing = dict(zip(known, ability, strict=True))
    a = np.asarray([standing.get(m, float(np.mean(ability))) for m in models])
    design = np.stack([np.ones_like(a), a], axis=1)
    by_ability = np.linalg.lstsq(design, p["vec"], rcond=None)[0]
    return MfDescriptor(mean, scale, p["proj"], p["vec"], models, by_ability)
