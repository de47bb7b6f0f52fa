"""The cascade's pair curve agrees with single routers where it must."""

from __future__ import annotations

import numpy as np
import pytest

from routeiq_sidecar.training.cascade_eval import cascade_curve, cascade_summary
from routeiq_sidecar.training.metrics import pair_curve, pair_summary


@pytest.fixture
def data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    strong = (rng.random(300) < 0.8).astype(float)
    weak = (rng.random(300) < 0.5).astype(float)
    good = strong - weak + 0.3 * rng.normal(size=300)  # informative
    noise = rng.normal(size=300)  # uninformative
    return strong, weak, good, noise


def test_margin_zero_is_the_static_router(data: tuple[np.ndarray, ...]) -> None:
    strong, weak, good, noise = data
    got = cascade_summary(noise, good, strong, weak, 0.0)
    want = pair_summary(pair_curve(noise, strong, weak))
    assert got["apgr"] == pytest.approx(want["apgr"])
    assert got["cpt50"] == pytest.approx(want["cpt50"])
    assert got["escalated_mean"] == 0.0 and got["escalated_at_cpt50"] == 0.0


def test_same_router_twice_is_that_router(data: tuple[np.ndarray, ...]) -> None:
    strong, weak, good, _ = data
    got = cascade_summary(good, good, strong, weak, 0.3)
    assert got["apgr"] == pytest.approx(pair_summary(pair_curve(good, strong, weak))["apgr"])
    assert 0.0 < got["escalated_mean"] < 1.0


def test_escalating_to_a_better_router_helps_more_with_a_wider_margin(
    data: tuple[np.ndarray, ...],
) -> None:
    strong, weak, good, noise = data
    scaled = noise * 0.1  # static scores near each threshold: unsure often
    apgrs = [cascade_summary(scaled, good, strong, weak, m)["apgr"] for m in (0.0, 0.05, 0.5)]
    escalated = [cascade_summary(scaled, good, strong, weak, m)["escalated_mean"]
                 for m in (0.0, 0.05, 0.5)]
    assert apgrs[0] < apgrs[1] < apgrs[2]
    assert escalated[0] < escalated[1] < escalated[2] <= 1.0


def test_curve_spans_all_weak_to_all_strong(data: tuple[np.ndarray, ...]) -> None:
    strong, weak, good, noise = data
    curve, esc = cascade_curve(noise, good, strong, weak, 0.2)
    assert curve.strong_share[0] == 0.0 and curve.strong_share[-1] == 1.0
    assert curve.pgr[0] == pytest.approx(0.0) and curve.pgr[-1] == pytest.approx(1.0)
    assert np.all(np.diff(curve.strong_share) >= 0) and esc.shape == curve.pgr.shape
