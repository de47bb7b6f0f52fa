"""Routing-quality metrics (numpy only), defined as in RouteLLM and RouterBench so numbers compare.

Strong/weak pair (RouteLLM)
---------------------------
A router gives each prompt a score, higher meaning "send to the strong model". Sweeping a threshold
``t`` (prompt goes to strong iff ``router_score >= t``) over every distinct router score, from the
highest down, plus ``t = +inf``, gives ``k + 1`` points for ``k`` distinct scores: strong-call share
goes from exactly 0 (all weak) to exactly 1 (all strong). Prompts with equal router scores always
move together, so ties are deterministic and never broken by input order.

* mean score at a point: mean over prompts of the score of the model each prompt went to;
* ``PGR = (mean - weak_mean) / (strong_mean - weak_mean)``: 0 at share 0, 1 at share 1 exactly;
  NaN everywhere when ``strong_mean == weak_mean`` (no gap to recover);
* ``APGR``: trapezoid area under PGR against share over [0, 1], endpoints included. RouteLLM
  integrates its 10 threshold points the same way; here every distinct threshold is a point;
* ``CPT(x)``: the smallest share among the swept points whose PGR >= x (``x`` a fraction, 0.5 for
  CPT(50%)), without interpolation between points (RouteLLM interpolates linearly between its 10
  points; with one point per distinct score the two differ by at most one step). Always defined
  for ``0 <= x <= 1`` since PGR is 1 at share 1.

Many models with costs (RouterBench)
------------------------------------
For a trade-off ``lambda >= 0`` every prompt goes to
``argmax_j(pred[i, j] - lambda * cost[i, j] / cost_scale)`` where ``cost_scale`` is the largest
per-model mean cost (so the most expensive model costs 1 on average); ties go to the cheaper model,
then the lower column. A model whose score or cost is NaN for a prompt is not eligible for it.
Each lambda gives one point (mean $ per prompt, mean score).

``AIQ``: the area under the non-decreasing convex hull of a router's points (the best score
reachable by randomly mixing its configurations at a budget of at most ``c``), integrated over the
cost range ``[min_cost, max_cost]`` of the individual models and divided by its width, so it is
in score units. Below the router's cheapest point the hull is 0 (the router cannot run that
cheaply), above its best point it stays flat at the best score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_LAMBDAS",
    "N_RANDOM_SEEDS",
    "PairCurve",
    "aiq",
    "apgr",
    "cpt",
    "multi_report",
    "nondecreasing_hull",
    "pair_curve",
    "pair_report",
    "pair_summary",
    "quality_cost_points",
    "route_by_lambda",
]

N_RANDOM_SEEDS = 20
"""Random-router baselines average this many seeded draws."""

DEFAULT_LAMBDAS: tuple[float, ...] = (0.0, *(float(v) for v in np.geomspace(1e-3, 1e4, 71)))
"""Cost trade-offs swept by :func:`multi_report` (0, then 1e-3..1e4 log-spaced, 10 per decade)."""


class PairCurve(NamedTuple):
    """One point per threshold, strong share increasing from 0 to 1."""

    strong_share: np.ndarray
    mean_score: np.ndarray
    pgr: np.ndarray


def _vector(name: str, values: ArrayLike, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: empty")
    if n is not None and arr.size != n:
        raise ValueError(f"{name}: length {arr.size}, expected {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


# ------------------------------------------------------------------------------ strong/weak pair


def pair_curve(
    router_scores: ArrayLike, strong_scores: ArrayLike, weak_scores: ArrayLike
) -> PairCurve:
    """The threshold sweep of a strong/weak router; see the module docstring."""
    r = _vector("router_scores", router_scores)
    s = _vector("strong_scores", strong_scores, r.size)
    w = _vector("weak_scores", weak_scores, r.size)
    n = r.size
    order = np.argsort(-r, kind="stable")
    sorted_r = r[order]
    cum_gain = np.cumsum((s - w)[order])
    # last position of each run of equal router scores: a threshold there takes the whole run
    ends = np.flatnonzero(np.r_[sorted_r[1:] != sorted_r[:-1], True])
    share = np.r_[0.0, (ends + 1) / n]
    gained = np.r_[0.0, cum_gain[ends]]
    mean = (w.sum() + gained) / n
    total = gained[-1]
    if abs(total) <= 1e-12 * max(1.0, float(np.abs(s - w).sum())):
        pgr = np.full_like(share, np.nan)
    else:
        pgr = gained / total
        pgr[0], pgr[-1] = 0.0, 1.0
    return PairCurve(share, mean, pgr)


def apgr(curve: PairCurve) -> float:
    """Trapezoid area under PGR against strong share, from (0, 0) to (1, 1); NaN without a gap."""
    if np.any(np.isnan(curve.pgr)):
        return float("nan")
    return _trapezoid(curve.pgr, curve.strong_share)


def cpt(curve: PairCurve, x: float) -> float:
    """Smallest swept strong share whose PGR >= ``x`` (``x`` in [0, 1]); NaN without a gap.

    A 1e-9 tolerance absorbs rounding, so a point with PGR exactly ``x`` counts.
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if np.any(np.isnan(curve.pgr)):
        return float("nan")
    hits = np.flatnonzero(curve.pgr >= x - 1e-9)
    return float(curve.strong_share[hits[0]])


def pair_summary(curve: PairCurve) -> dict[str, float]:
    """``{"apgr", "cpt50", "cpt80"}`` of one curve."""
    return {"apgr": apgr(curve), "cpt50": cpt(curve, 0.5), "cpt80": cpt(curve, 0.8)}


def pair_report(
    router_scores: ArrayLike,
    strong: ArrayLike,
    weak: ArrayLike,
    *,
    seed: int = 0,
    prompt_lengths: ArrayLike | None = None,
) -> dict[str, Any]:
    """A router against the pair baselines.

    Returns ``{"apgr", "cpt50", "cpt80"}`` of the router plus ``n``, ``strong_mean``,
    ``weak_mean`` and, with the same three keys:

    * ``"random"``: the mean over :data:`N_RANDOM_SEEDS` routers drawing a uniform score per prompt
      (``numpy.random.default_rng(seed)``); its APGR expectation is exactly 0.5 (the expected curve
      is the diagonal), ``apgr_expected`` says so;
    * ``"oracle"``: strong exactly where it scores strictly better than weak;
    * ``"length"`` (only with ``prompt_lengths``): the longer the prompt, the likelier strong.
    """
    r = _vector("router_scores", router_scores)
    s = _vector("strong", strong, r.size)
    w = _vector("weak", weak, r.size)
    report: dict[str, Any] = {
        **pair_summary(pair_curve(r, s, w)),
        "n": int(r.size),
        "strong_mean": float(s.mean()),
        "weak_mean": float(w.mean()),
    }
    rng = np.random.default_rng(seed)
    draws = [pair_summary(pair_curve(rng.random(r.size), s, w)) for _ in range(N_RANDOM_SEEDS)]
    report["random"] = {
        key: float(np.mean([d[key] for d in draws])) for key in ("apgr", "cpt50", "cpt80")
    }
    report["random"]["apgr_expected"] = 0.5
    report["random"]["n_seeds"] = N_RANDOM_SEEDS
    oracle = pair_curve((s > w).astype(np.float64), s, w)
    report["oracle"] = {
        **pair_summary(oracle),
        "strong_share": float(np.mean(s > w)),
        "score": float(np.maximum(s, w).mean()),
    }
    if prompt_lengths is not None:
        lengths = _vector("prompt_lengths", prompt_lengths, r.size)
        report["length"] = pair_summary(pair_curve(lengths, s, w))
    return report


# ------------------------------------------------------------------------- many models with costs


def _matrices(
    pred: ArrayLike, scores: ArrayLike, costs: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    co = np.asarray(costs, dtype=np.float64)
    if sc.ndim != 2 or sc.shape[0] == 0 or sc.shape[1] == 0:
        raise ValueError(f"scores: expected a non-empty n x m matrix, got shape {sc.shape}")
    for name, arr in (("pred_quality", p), ("costs", co)):
        if arr.shape != sc.shape:
            raise ValueError(f"{name}: shape {arr.shape}, expected {sc.shape}")
    eligible = np.isfinite(sc) & np.isfinite(co)
    if np.any(co[eligible] < 0):
        raise ValueError("costs: negative values")
    if not np.all(np.isfinite(p[eligible])):
        raise ValueError("pred_quality: NaN or infinite where the model is eligible")
    no_model = ~eligible.any(axis=1)
    if np.any(no_model):
        raise ValueError(
            f"row {int(np.flatnonzero(no_model)[0])}: no model has both a score and a cost"
        )
    return p, sc, co, eligible


def _cost_scale(costs: np.ndarray, eligible: np.ndarray) -> float:
    col_sum = np.where(eligible, costs, 0.0).sum(axis=0)
    col_n = eligible.sum(axis=0)
    means = col_sum[col_n > 0] / col_n[col_n > 0]
    scale = float(means.max())
    return scale if scale > 0 else 1.0


def _pick(utility: np.ndarray, costs: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Per row: the eligible column of highest utility, ties to the cheaper, then lower column."""
    u = np.where(eligible, utility, -np.inf)
    best = eligible & (u == u.max(axis=1, keepdims=True))
    choice: np.ndarray = np.where(best, costs, np.inf).argmin(axis=1)
    return choice


def route_by_lambda(
    pred_quality: ArrayLike, costs: ArrayLike, lam: float, *, scores: ArrayLike | None = None
) -> np.ndarray:
    """Column chosen per row for one ``lambda`` (eligibility from ``scores`` when given)."""
    p = np.asarray(pred_quality, dtype=np.float64)
    p, _, co, eligible = _matrices(p, p if scores is None else scores, costs)
    if lam < 0:
        raise ValueError(f"lambda must be >= 0, got {lam}")
    scale = _cost_scale(co, eligible)
    return _pick(p - lam * co / scale, co, eligible)


def quality_cost_points(
    pred_quality: ArrayLike, scores: ArrayLike, costs: ArrayLike, lambdas: Iterable[float]
) -> list[tuple[float, float]]:
    """``(mean $ per prompt, mean score)`` of the router for each lambda, in lambda order."""
    p, sc, co, eligible = _matrices(pred_quality, scores, costs)
    scale = _cost_scale(co, eligible)
    rows = np.arange(sc.shape[0])
    points: list[tuple[float, float]] = []
    for lam in lambdas:
        if not lam >= 0:
            raise ValueError(f"lambda must be >= 0, got {lam}")
        choice = _pick(p - float(lam) * co / scale, co, eligible)
        points.append((float(co[rows, choice].mean()), float(sc[rows, choice].mean())))
    return points


def nondecreasing_hull(points: ArrayLike) -> np.ndarray:
    """Vertices ``(k, 2)`` of the non-decreasing upper convex hull of ``(cost, score)`` points.

    Sorted by cost; it starts at the cheapest point (the best one at that cost) and ends at the
    cheapest point of maximal score. Between vertices the hull is linear, after the last flat.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 0:
        raise ValueError("points: empty")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points: contains NaN or infinite values")
    y_max = pts[:, 1].max()
    x_star = pts[pts[:, 1] == y_max, 0].min()
    pts = pts[pts[:, 0] <= x_star]
    pts = pts[np.lexsort((-pts[:, 1], pts[:, 0]))]  # by cost, best score first at equal cost
    keep = np.r_[True, pts[1:, 0] != pts[:-1, 0]]
    pts = pts[keep]
    hull: list[np.ndarray] = []
    for pt in pts:
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (a[0] - o[0]) * (pt[1] - o[1]) - (a[1] - o[1]) * (pt[0] - o[0])
            if cross >= 0:  # a lies on or under the chord o-pt
                hull.pop()
            else:
                break
        hull.append(pt)
    return np.array(hull)


def aiq(points: ArrayLike, *, cost_range: tuple[float, float] | None = None) -> float:
    """RouterBench's AIQ of ``(cost, score)`` points; see the module docstring.

    ``cost_range`` is ``(min_cost, max_cost)`` of the individual models
    (:func:`multi_report` passes it); without it, the points' own cost range is used. With a
    zero-width range the hull's value at that cost is returned.
    """
    hull = nondecreasing_hull(points)
    if cost_range is None:
        lo, hi = float(hull[0, 0]), float(np.asarray(points, dtype=np.float64)[:, 0].max())
    else:
        lo, hi = float(cost_range[0]), float(cost_range[1])
    if not hi >= lo:
        raise ValueError(f"cost_range: max {hi} < min {lo}")
    hx, hy = hull[:, 0], hull[:, 1]
    if hi == lo:
        return 0.0 if lo < hx[0] else float(np.interp(lo, hx, hy))
    start = max(lo, float(hx[0]))
    if start >= hi:
        return 0.0
    xs = np.unique(np.r_[start, hx[(hx > start) & (hx < hi)], hi])
    ys = np.interp(xs, hx, hy)  # flat at hy[-1] right of the hull
    return _trapezoid(ys, xs) / (hi - lo)


def multi_report(
    pred: ArrayLike,
    scores: ArrayLike,
    costs: ArrayLike,
    *,
    seed: int = 0,
    models: Sequence[str] | None = None,
    lambdas: Iterable[float] = DEFAULT_LAMBDAS,
) -> dict[str, Any]:
    """A many-model router against single models, random mixtures and the oracle.

    * ``router``: its ``points`` (one per lambda), ``aiq`` and ``best_score``;
    * ``single_models``: ``{name: {"cost", "score", "n"}}`` over the rows where that model has a
      score and a cost; ``best_single`` (highest score, ties to the cheaper) and ``cheapest``;
    * ``random``: routing that mixes the single models at random; its expected points fill the
      convex hull of the single models, so ``aiq`` is that hull's AIQ (analytic) and ``hull`` its
      vertices; ``uniform`` is one seeded draw of a uniformly random eligible model per prompt;
    * ``oracle``: per prompt the cheapest model among those with the best score (``cost``,
      ``score``), plus ``points``/``aiq`` of the lambda sweep with the true scores as predictions;
    * ``cost_range``: ``(min, max)`` mean cost of the single models, the AIQ integration range.
    """
    p, sc, co, eligible = _matrices(pred, scores, costs)
    n, m = sc.shape
    names = list(models) if models is not None else [str(j) for j in range(m)]
    if len(names) != m:
        raise ValueError(f"models: {len(names)} names for {m} columns")
    lambdas = list(lambdas)
    rows = np.arange(n)

    single: dict[str, dict[str, float]] = {}
    for j, name in enumerate(names):
        mask = eligible[:, j]
        if mask.any():
            single[name] = {
                "cost": float(co[mask, j].mean()),
                "score": float(sc[mask, j].mean()),
                "n": int(mask.sum()),
            }
    single_points = [(v["cost"], v["score"]) for v in single.values()]
    cost_range = (min(c for c, _ in single_points), max(c for c, _ in single_points))
    best_name = min(single, key=lambda k: (-single[k]["score"], single[k]["cost"]))
    cheap_name = min(single, key=lambda k: (single[k]["cost"], -single[k]["score"]))

    router_points = quality_cost_points(p, sc, co, lambdas)

    rng = np.random.default_rng(seed)
    noise = np.where(eligible, rng.random(sc.shape), -np.inf)
    uniform_choice = noise.argmax(axis=1)

    true_best = np.where(eligible, sc, -np.inf)
    oracle_choice = _pick(true_best, co, eligible)
    oracle_points = quality_cost_points(np.where(eligible, sc, 0.0), sc, co, lambdas)

    return {
        "n": n,
        "cost_range": cost_range,
        "router": {
            "points": router_points,
            "aiq": aiq(router_points, cost_range=cost_range),
            "best_score": max(s for _, s in router_points),
        },
        "single_models": single,
        "best_single": {"model": best_name, **single[best_name]},
        "cheapest": {"model": cheap_name, **single[cheap_name]},
        "random": {
            "aiq": aiq(single_points, cost_range=cost_range),
            "hull": [(float(x), float(y)) for x, y in nondecreasing_hull(single_points)],
            "uniform": {
                "cost": float(co[rows, uniform_choice].mean()),
                "score": float(sc[rows, uniform_choice].mean()),
            },
        },
        "oracle": {
            "cost": float(co[rows, oracle_choice].mean()),
            "score": float(sc[rows, oracle_choice].mean()),
            "points": oracle_points,
            "aiq": aiq(oracle_points, cost_range=cost_range),
        },
    }


def rounded(x: float) -> float | None:
    """A reported figure: 4 decimals, None when not finite (no JSON NaN)."""
    return None if not np.isfinite(x) else round(float(x), 4)
