"""Strong/weak pairs: the default pair of a data file, and the mean APGR over all pairs.

Default pair (``eval`` and the bundle's manifest use it unless ``--strong/--weak`` is given):

* the RouteLLM pair ``gpt-4-1106-preview`` / ``mistralai/Mixtral-8x7B-Instruct-v0.1`` when
  both are in the data (RouteLLM's own MMLU benchmark);
* else strong = the model with the highest mean score; weak = the cheapest model by mean cost
  per prompt (ties: the better of them), or without costs the model with the lowest mean score.

The mean pairwise APGR is the validation score used to pick hyper-parameters and the default
strategy at training time: for every pair of models (the one with the higher mean score on the
rows both have as strong), the router score is ``pred[strong] - pred[weak]``; pairs without a
score gap are skipped, and each pair is weighted by its mean score gap (a near-tie pair has a
tiny denominator in PGR, so its APGR is noise). It rewards a head for telling which prompts
need the stronger model, which is all routing needs, over the whole catalogue, not one pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routeiq_sidecar.training.metrics import apgr, pair_curve

ROUTELLM_PAIR = ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1")


def _means(matrix: np.ndarray) -> np.ndarray:
    obs = np.isfinite(matrix)
    total = np.where(obs, matrix, 0.0).sum(axis=0)
    count = obs.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def default_pair(
    models: Sequence[str], scores: np.ndarray, costs: np.ndarray | None = None
) -> tuple[str, str]:
    names = list(models)
    if len(names) < 2:
        raise ValueError(f"a strong/weak pair needs two models, the data has {names}")
    if all(m in names for m in ROUTELLM_PAIR):
        return ROUTELLM_PAIR
    quality = np.nan_to_num(_means(scores), nan=-np.inf)
    strong = int(np.argmax(quality))
    price = _means(costs) if costs is not None else np.full(len(names), np.nan)
    rest = [j for j in range(len(names)) if j != strong]
    priced = [j for j in rest if np.isfinite(price[j])]
    if priced:
        weak = min(priced, key=lambda j: (price[j], -quality[j], j))
    else:
        weak = min(rest, key=lambda j: (quality[j], j))
    return names[strong], names[weak]


def pair_score(pred: np.ndarray, scores: np.ndarray, strong: int, weak: int) -> float:
    """APGR of ``pred[:, strong] - pred[:, weak]`` on rows where both models have a score."""
    rows = np.isfinite(scores[:, strong]) & np.isfinite(scores[:, weak])
    if rows.sum() < 2:
        return float("nan")
    router = pred[rows, strong] - pred[rows, weak]
    return apgr(pair_curve(router, scores[rows, strong], scores[rows, weak]))


def mean_pair_apgr(pred: np.ndarray, scores: np.ndarray) -> float:
    """Gap-weighted mean APGR over all model pairs with a score gap (NaN when there is none)."""
    m = scores.shape[1]
    values: list[float] = []
    weights: list[float] = []
    for a in range(m):
        for b in range(a + 1, m):
            rows = np.isfinite(scores[:, a]) & np.isfinite(scores[:, b])
            if rows.sum() < 2:
                continue
            gap = float(scores[rows, a].mean() - scores[rows, b].mean())
            s, w = (a, b) if gap >= 0 else (b, a)
            v = pair_score(pred, scores, s, w)
            if np.isfinite(v) and abs(gap) > 0:
                values.append(v)
                weights.append(abs(gap))
    return float(np.average(values, weights=weights)) if values else float("nan")
