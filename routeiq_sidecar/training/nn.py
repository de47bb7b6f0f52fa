"""Parametric quality heads in plain numpy: an MLP and a RouteLLM-style matrix factorisation.

Both predict ``P(model m answers prompt x well)`` for every trained model at once, on the 0..1
scale of the data's scores, from the prompt embedding joined with the structural features.
They are trained with masked binary cross-entropy (a missing score contributes nothing; soft
scores in 0..1 are fine) plus L2 weight decay, by Adam on shuffled mini-batches; every random
draw comes from ``numpy.random.default_rng(seed)``, so a seed gives the same weights.

* ``mlp``: ``sigmoid(relu(z @ W1 + b1) @ W2 + b2)``
* ``mf``:  ``sigmoid((z @ P) @ V.T + b)`` -- the prompt is projected into the space of the
  learned model vectors ``V`` (one row per model), as in RouteLLM's matrix factorisation.

``z = (x - mean) / scale`` standardises the inputs; the ONNX export folds it into the first
layer (training/onnx_export.py), and :meth:`forward` here is the reference the export is
tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Params = dict[str, np.ndarray]
GradFn = Callable[[Params, np.ndarray, np.ndarray, np.ndarray], tuple[float, Params]]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


@dataclass
class QualityNet:
    """A trained head: its kind (``mlp``/``mf``), standardiser and weights."""

    kind: str
    mean: np.ndarray
    scale: np.ndarray
    params: Params
    info: dict[str, float] = field(default_factory=dict)

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - self.mean) / self.scale
        return sigmoid(_logits(self.kind, self.params, z)[0])


def _logits(kind: str, p: Params, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output logits and the hidden activations (for the backward pass)."""
    if kind == "mlp":
        h = np.maximum(z @ p["w1"] + p["b1"], 0.0)
        return h @ p["w2"] + p["b2"], h
    if kind == "mf":
        u = z @ p["p"]
        return u @ p["v"].T + p["b"], u
    raise ValueError(f"unknown head kind {kind!r}")


def _masked_bce(logits: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean BCE over observed entries and d(loss)/d(logits)."""
    n_obs = max(1.0, float(mask.sum()))
    prob = sigmoid(logits)
    eps = 1e-7
    ll = y * np.log(prob + eps) + (1 - y) * np.log(1 - prob + eps)
    loss = -float((ll * mask).sum()) / n_obs
    return loss, (prob - y) * mask / n_obs


def _grad(kind: str, wd: float) -> GradFn:
    def fn(p: Params, z: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[float, Params]:
        logits, hid = _logits(kind, p, z)
        loss, d = _masked_bce(logits, y, mask)
        g: Params = {}
        if kind == "mlp":
            g["w2"], g["b2"] = hid.T @ d, d.sum(0)
            dh = (d @ p["w2"].T) * (hid > 0)
            g["w1"], g["b1"] = z.T @ dh, dh.sum(0)
            decayed = ("w1", "w2")
        else:
            g["v"], g["b"] = d.T @ hid, d.sum(0)
            g["p"] = z.T @ (d @ p["v"])
            decayed = ("p", "v")
        for k in decayed:
            loss += 0.5 * wd * float((p[k] ** 2).sum())
            g[k] = g[k] + wd * p[k]
        return loss, g

    return fn


def init_params(kind: str, d: int, m: int, width: int, rng: np.random.Generator,
                prior: np.ndarray) -> Params:
    """He-style initialisation; output biases start at the models' mean score (as logits)."""
    bias = np.log(np.clip(prior, 0.02, 0.98) / (1 - np.clip(prior, 0.02, 0.98)))
    if kind == "mlp":
        return {
            "w1": rng.normal(0.0, np.sqrt(2.0 / d), (d, width)),
            "b1": np.zeros(width),
            "w2": rng.normal(0.0, np.sqrt(1.0 / width), (width, m)),
            "b2": bias.astype(np.float64),
        }
    if kind == "mf":
        return {
            "p": rng.normal(0.0, np.sqrt(1.0 / d), (d, width)),
            "v": rng.normal(0.0, np.sqrt(1.0 / width), (m, width)),
            "b": bias.astype(np.float64),
        }
    raise ValueError(f"unknown head kind {kind!r}")


@dataclass(frozen=True)
class TrainConfig:
    kind: str = "mlp"
    width: int = 128  # hidden units (mlp) or factor dimension (mf)
    weight_decay: float = 1e-3
    lr: float = 1e-3
    batch: int = 128
    epochs: int = 40


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def masked_loss(net: QualityNet, x: np.ndarray, y: np.ndarray) -> float:
    mask = np.isfinite(y)
    z = (x - net.mean) / net.scale
    loss, _ = _masked_bce(_logits(net.kind, net.params, z)[0], np.nan_to_num(y), mask)
    return loss


def fit(
    x: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    *,
    seed: int,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[int, QualityNet], float] | None = None,
) -> tuple[QualityNet, list[float]]:
    """Train on ``x`` (n, d) against ``y`` (n, m; NaN = missing) for ``cfg.epochs`` epochs.

    With ``on_epoch`` the callback's value (higher is better) is recorded after every epoch and
    returned as the history, so a caller can pick the best epoch count; otherwise the history
    is the validation loss (negated) when ``val`` is given, else empty.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float64)
    mask = np.isfinite(y).astype(np.float64)
    target = np.nan_to_num(np.asarray(y, np.float64))
    mean, scale = standardiser(x)
    z = (x - mean) / scale
    prior = np.nanmean(np.where(mask > 0, target, np.nan), axis=0)
    params = init_params(
        cfg.kind, x.shape[1], y.shape[1], cfg.width, rng, np.nan_to_num(prior, nan=0.5)
    )
    grad = _grad(cfg.kind, cfg.weight_decay)
    m1 = {k: np.zeros_like(v) for k, v in params.items()}
    m2 = {k: np.zeros_like(v) for k, v in params.items()}
    b1, b2, step = 0.9, 0.999, 0
    history: list[float] = []
    net = QualityNet(cfg.kind, mean, scale, params)
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(z))
        for i in range(0, len(z), cfg.batch):
            idx = order[i : i + cfg.batch]
            _, g = grad(params, z[idx], target[idx], mask[idx])
            step += 1
            for k in params:
                m1[k] = b1 * m1[k] + (1 - b1) * g[k]
                m2[k] = b2 * m2[k] + (1 - b2) * g[k] ** 2
                lr = cfg.lr * np.sqrt(1 - b2**step) / (1 - b1**step)
                params[k] = params[k] - lr * m1[k] / (np.sqrt(m2[k]) + 1e-8)
        if on_epoch is not None:
            history.append(on_epoch(epoch + 1, net))
        elif val is not None:
            history.append(-masked_loss(net, *val))
    return net, history
