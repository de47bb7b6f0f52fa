"""The cascade's strong/weak curve: static router first, MiniLM router when the static is unsure.

Serving escalates when the static tier's best two candidates are within ``cascade_margin`` in
utility (engine/cascade.py). For a strong/weak pair the utility gap is
``|router_score - t|``, ``t`` the decision rule's cost threshold (``lambda`` times the price
gap), so at threshold ``t`` a prompt goes to strong iff

* ``static >= t`` when ``|static - t| >= margin`` (the static tier is sure), else
* ``minilm >= t`` (MiniLM answered).

Sweeping ``t`` gives one (strong share, PGR) point per threshold, as metrics.pair_curve does
for one router; the decisions are not nested across thresholds, so the points are ordered by
share before integrating. Each point also has its escalated share (the MiniLM passes paid).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routeiq_sidecar.training.metrics import PairCurve, apgr, cpt

CHUNK = 512  # thresholds evaluated at once (CHUNK x n booleans)


def _thresholds(static: np.ndarray, minilm: np.ndarray, margin: float) -> np.ndarray:
    """Every place where some prompt's decision can change, as midpoints, plus both ends."""
    cuts = np.unique(np.concatenate([static, minilm, static - margin, static + margin]))
    mids = (cuts[1:] + cuts[:-1]) / 2
    return np.concatenate([[cuts[-1] + 1.0], mids[::-1], [cuts[0] - 1.0]])


def cascade_curve(
    static: np.ndarray, minilm: np.ndarray, strong: np.ndarray, weak: np.ndarray, margin: float
) -> tuple[PairCurve, np.ndarray]:
    """``(curve, escalated share per point)``, points ordered by strong share."""
    n = static.size
    shares, means, escalated = [], [], []
    for chunk in np.array_split(_thresholds(static, minilm, margin),
                                max(1, static.size * 4 // CHUNK)):
        t = chunk[:, None]
        unsure = np.abs(static[None, :] - t) < margin
        to_strong = np.where(unsure, minilm[None, :] >= t, static[None, :] >= t)
        shares.append(to_strong.mean(axis=1))
        means.append(np.where(to_strong, strong[None, :], weak[None, :]).mean(axis=1))
        escalated.append(unsure.mean(axis=1))
    share, mean, esc = (np.concatenate(x) for x in (shares, means, escalated))
    order = np.lexsort((mean, share))
    share, mean, esc = share[order], mean[order], esc[order]
    gap = strong.mean() - weak.mean()
    pgr = (mean - weak.mean()) / gap if abs(gap) > 1e-12 else np.full_like(mean, np.nan)
    assert share[0] == 0.0 and share[-1] == 1.0 and n > 0
    return PairCurve(share, mean, pgr), esc


def cascade_summary(
    static: np.ndarray, minilm: np.ndarray, strong: np.ndarray, weak: np.ndarray, margin: float
) -> dict[str, Any]:
    """APGR, CPT(50), CPT(80) of the cascade; the escalated share averaged over the curve
    (weighted by strong share, as APGR averages PGR) and at the CPT(50) point."""
    curve, esc = cascade_curve(static, minilm, strong, weak, margin)
    c50 = cpt(curve, 0.5)
    hits = np.flatnonzero(curve.pgr >= 0.5 - 1e-9)  # the point cpt() reads
    at50 = esc[int(hits[0])] if hits.size else np.nan
    widths = np.diff(curve.strong_share)
    mean_esc = float(((esc[1:] + esc[:-1]) / 2 * widths).sum())
    return {"apgr": apgr(curve), "cpt50": c50, "cpt80": cpt(curve, 0.8),
            "escalated_mean": mean_esc, "escalated_at_cpt50": float(at50)}
