"""Routing metrics on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from routeiq_sidecar.training.metrics import (
    aiq,
    apgr,
    cpt,
    multi_report,
    nondecreasing_hull,
    pair_curve,
    pair_report,
    quality_cost_points,
)

# Four prompts. gains (strong - weak) = [1, 0, -1, 1]; strong mean 0.75, weak mean 0.5, gap 0.25.
STRONG = [1.0, 1.0, 0.0, 1.0]
WEAK = [0.0, 1.0, 1.0, 0.0]

# Same but weak never beats strong: gains [1, 0, 0, 1].
STRONG_DOM = [1.0, 1.0, 0.0, 1.0]
WEAK_DOM = [0.0, 1.0, 0.0, 0.0]


# ------------------------------------------------------------------------------------ pair curve


def test_curve_distinct_scores_by_hand() -> None:
    # router order: prompt 0 (0.9, +1), 2 (0.5, -1), 3 (0.3, +1), 1 (0.1, 0)
    curve = pair_curve([0.9, 0.1, 0.5, 0.3], STRONG, WEAK)
    np.testing.assert_allclose(curve.strong_share, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(curve.mean_score, [0.5, 0.75, 0.5, 0.75, 0.75])
    np.testing.assert_allclose(curve.pgr, [0, 1, 0, 1, 1])
    # trapezoids of width 0.25: (0+1)/2 + (1+0)/2 + (0+1)/2 + (1+1)/2 = 2.5
    assert apgr(curve) == pytest.approx(0.625)
    assert cpt(curve, 0.5) == pytest.approx(0.25)
    assert cpt(curve, 0.8) == pytest.approx(0.25)
    assert cpt(curve, 1.0) == pytest.approx(0.25)
    assert cpt(curve, 0.0) == 0.0


def test_curve_endpoints_are_exact() -> None:
    rng = np.random.default_rng(3)
    s, w, r = rng.random(101), rng.random(101), rng.random(101)
    curve = pair_curve(r, s, w)
    assert curve.strong_share[0] == 0.0 and curve.strong_share[-1] == 1.0
    assert curve.pgr[0] == 0.0 and curve.pgr[-1] == 1.0
    assert curve.mean_score[0] == pytest.approx(w.mean())
    assert curve.mean_score[-1] == pytest.approx(s.mean())
    assert len(curve.strong_share) == 102
    assert np.all(np.diff(curve.strong_share) > 0)


def test_ties_move_together_and_do_not_depend_on_row_order() -> None:
    router = np.array([1.0, 1.0, 0.0, 0.0, 0.5])
    strong = np.array([1.0, 0.0, 1.0, 1.0, 1.0])
    weak = np.array([0.0, 1.0, 0.0, 0.0, 0.0])
    curve = pair_curve(router, strong, weak)
    np.testing.assert_allclose(curve.strong_share, [0, 0.4, 0.6, 1.0])  # 3 distinct values
    for perm in ([4, 3, 2, 1, 0], [1, 0, 3, 2, 4], [2, 4, 0, 3, 1]):
        other = pair_curve(router[perm], strong[perm], weak[perm])
        np.testing.assert_array_equal(other.strong_share, curve.strong_share)
        np.testing.assert_allclose(other.pgr, curve.pgr)


def test_oracle_apgr_by_hand() -> None:
    # oracle: strong on prompts 0 and 3 -> (0, 0), (0.5, PGR 2/1 = 2), (1, 1)
    # APGR = 0.5 * (0 + 2) / 2 + 0.5 * (2 + 1) / 2 = 1.25
    report = pair_report([0.0, 0.0, 0.0, 0.0], STRONG, WEAK, seed=0)
    assert report["oracle"]["apgr"] == pytest.approx(1.25)
    assert report["oracle"]["cpt50"] == pytest.approx(0.5)
    assert report["oracle"]["cpt80"] == pytest.approx(0.5)
    assert report["oracle"]["strong_share"] == pytest.approx(0.5)
    assert report["oracle"]["score"] == pytest.approx(1.0)
    # dominated pair: (0, 0), (0.5, 1), (1, 1) -> 0.25 + 0.5 = 0.75
    dom = pair_report([0.0] * 4, STRONG_DOM, WEAK_DOM, seed=0)
    assert dom["oracle"]["apgr"] == pytest.approx(0.75)


def test_constant_router_is_the_diagonal() -> None:
    curve = pair_curve([0.3] * 4, STRONG, WEAK)
    np.testing.assert_allclose(curve.strong_share, [0, 1])
    assert apgr(curve) == pytest.approx(0.5)
    assert cpt(curve, 0.5) == 1.0


def test_perfect_router_reaches_pgr_one_at_oracle_share() -> None:
    s, w = np.array(STRONG_DOM), np.array(WEAK_DOM)
    curve = pair_curve(s - w, s, w)  # knows the gain of every prompt
    oracle_share = float(np.mean(s > w))
    k = int(np.flatnonzero(np.isclose(curve.strong_share, oracle_share))[0])
    assert curve.pgr[k] == pytest.approx(1.0)
    assert cpt(curve, 1.0) == pytest.approx(oracle_share)
    # with weak-better prompts the perfect ranking overshoots: PGR >= 1 at the oracle share
    s, w = np.array(STRONG), np.array(WEAK)
    curve = pair_curve(s - w, s, w)
    k = int(np.flatnonzero(np.isclose(curve.strong_share, np.mean(s > w)))[0])
    assert curve.pgr[k] >= 1.0


def test_inverted_router_is_below_half() -> None:
    # strong on prompts 1, 2 first: (0, 0), (0.5, -1), (1, 1) -> -0.25 + 0 = -0.25
    curve = pair_curve([0.0, 1.0, 1.0, 0.0], STRONG, WEAK)
    assert apgr(curve) == pytest.approx(-0.25)
    rng = np.random.default_rng(0)
    s = (rng.random(500) < 0.8).astype(float)
    w = (rng.random(500) < 0.5).astype(float)
    assert apgr(pair_curve(-(s - w), s, w)) < 0.5
    assert apgr(pair_curve(s - w, s, w)) > 0.5


def test_random_router_is_about_half() -> None:
    rng = np.random.default_rng(1)
    s = (rng.random(2000) < 0.8).astype(float)
    w = (rng.random(2000) < 0.6).astype(float)
    report = pair_report(rng.random(2000), s, w, seed=7)
    assert report["random"]["apgr"] == pytest.approx(0.5, abs=0.03)
    assert report["random"]["apgr_expected"] == 0.5
    assert report["random"]["cpt50"] == pytest.approx(0.5, abs=0.08)
    assert report["random"]["n_seeds"] == 20
    # the random baseline is reproducible from the seed
    again = pair_report(rng.random(2000), s, w, seed=7)
    assert again["random"] == report["random"]


def test_pair_report_length_baseline_and_keys() -> None:
    lengths = [100, 10, 10, 80]  # long prompts 0 and 3 -> same as the oracle here
    report = pair_report([0.9, 0.1, 0.5, 0.3], STRONG, WEAK, seed=0, prompt_lengths=lengths)
    assert report["apgr"] == pytest.approx(0.625)
    assert report["cpt50"] == pytest.approx(0.25)
    assert report["length"]["apgr"] == pytest.approx(1.25)
    assert report["strong_mean"] == pytest.approx(0.75)
    assert report["weak_mean"] == pytest.approx(0.5)
    assert report["n"] == 4
    assert "length" not in pair_report([0.0] * 4, STRONG, WEAK, seed=0)


def test_no_gap_gives_nan() -> None:
    curve = pair_curve([0.1, 0.2], [1.0, 0.0], [0.0, 1.0])
    assert math.isnan(apgr(curve))
    assert math.isnan(cpt(curve, 0.5))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="length"):
        pair_curve([0.1, 0.2], [1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        pair_curve([0.1, float("nan")], [1.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="empty"):
        pair_curve([], [], [])
    with pytest.raises(ValueError):
        cpt(pair_curve([0.1, 0.2], STRONG[:2], WEAK[:2]), 1.5)


# ----------------------------------------------------------------------------------- multi-model


def test_hull_and_aiq_by_hand() -> None:
    pts = [(0.0, 0.2), (1.0, 0.6), (2.0, 0.7), (3.0, 0.65)]
    np.testing.assert_allclose(nondecreasing_hull(pts), [[0, 0.2], [1, 0.6], [2, 0.7]])
    # [0,1]: 0.4, [1,2]: 0.65, [2,3]: flat 0.7 -> 1.75 / 3
    assert aiq(pts, cost_range=(0.0, 3.0)) == pytest.approx(1.75 / 3)
    # points under the hull change nothing
    more = [*pts, (1.0, 0.3), (1.5, 0.62), (2.5, 0.1)]
    assert aiq(more, cost_range=(0.0, 3.0)) == pytest.approx(1.75 / 3)
    # a point above a chord joins the hull: [0,.5]: .175, [.5,1]: .275, then .65 + .7 -> 1.8 / 3
    assert aiq([*pts, (0.5, 0.5)], cost_range=(0.0, 3.0)) == pytest.approx(0.6)


def test_aiq_non_convex_point_and_ranges() -> None:
    pts = [(0.0, 0.0), (1.0, 0.1), (2.0, 1.0)]  # (1, 0.1) lies under the chord: mixtures beat it
    np.testing.assert_allclose(nondecreasing_hull(pts), [[0, 0], [2, 1]])
    assert aiq(pts, cost_range=(0.0, 2.0)) == pytest.approx(0.5)
    assert aiq(pts) == pytest.approx(0.5)  # own range by default
    # nothing counts below the cheapest point: [1, 2] at 1.0 over a width of 2
    assert aiq([(1.0, 1.0)], cost_range=(0.0, 2.0)) == pytest.approx(0.5)
    assert aiq([(1.0, 1.0)], cost_range=(1.0, 1.0)) == pytest.approx(1.0)
    # a decreasing tail never lowers the hull
    assert aiq([(0.0, 1.0), (1.0, 0.0)], cost_range=(0.0, 1.0)) == pytest.approx(1.0)


# two prompts, "cheap" costs 1 and "dear" costs 3 on both; dear is right on both, cheap on the first
SCORES = np.array([[1.0, 1.0], [0.0, 1.0]])
COSTS = np.array([[1.0, 3.0], [1.0, 3.0]])


def test_quality_cost_points_by_hand() -> None:
    # lambda 0: prompt 0 ties -> cheaper model; prompt 1 -> dear: cost (1 + 3) / 2, score 1
    # lambda 10 (costs scaled by 3): cheap everywhere: cost 1, score 0.5
    points = quality_cost_points(SCORES, SCORES, COSTS, [0.0, 10.0])
    assert points == [pytest.approx((2.0, 1.0)), pytest.approx((1.0, 0.5))]


def test_ineligible_models_are_never_picked() -> None:
    scores = np.array([[np.nan, 0.0], [1.0, 1.0]])
    pred = np.array([[9.0, 0.0], [0.0, 0.0]])
    points = quality_cost_points(pred, scores, COSTS, [0.0])
    assert points == [pytest.approx((2.0, 0.5))]  # row 0 must use the second model


def test_multi_report_by_hand() -> None:
    rep = multi_report(SCORES, SCORES, COSTS, seed=0, models=["cheap", "dear"])
    assert rep["single_models"]["cheap"] == {"cost": 1.0, "score": 0.5, "n": 2}
    assert rep["single_models"]["dear"] == {"cost": 3.0, "score": 1.0, "n": 2}
    assert rep["best_single"]["model"] == "dear"
    assert rep["cheapest"]["model"] == "cheap"
    assert rep["cost_range"] == (1.0, 3.0)
    assert rep["oracle"]["cost"] == pytest.approx(2.0)
    assert rep["oracle"]["score"] == pytest.approx(1.0)
    # random mixtures: the segment (1, .5)-(3, 1): mean height .75
    assert rep["random"]["aiq"] == pytest.approx(0.75)
    # router (perfect here): hull (1, .5)-(2, 1) then flat: (.75 + 1) / 2
    assert rep["router"]["aiq"] == pytest.approx(0.875)
    assert rep["oracle"]["aiq"] == pytest.approx(0.875)
    assert rep["router"]["best_score"] == pytest.approx(1.0)
    uniform = rep["random"]["uniform"]
    assert 1.0 <= uniform["cost"] <= 3.0
    assert multi_report(SCORES, SCORES, COSTS, seed=0)["random"]["uniform"] == uniform
