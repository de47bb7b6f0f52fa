"""Feedback that learns: the blend rule, and an engine whose ranking follows feedback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.engine.learning import LearningConfig, blend, learns, reward, weight
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.state.stats import ModelStat
from routeiq_sidecar.types import Decision
from tests.unit.engine.state_helpers import make_engine, req

CFG = LearningConfig(weight=0.5, prior_strength=10.0, half_life_s=0.0)


def test_weight_grows_with_evidence_up_to_the_cap() -> None:
    assert weight(ModelStat(n=1, mean=0, ts=0), 0, CFG) == pytest.approx(1 / 11)
    assert weight(ModelStat(n=10, mean=0, ts=0), 0, CFG) == 0.5  # n/(n+k) = 0.5 = cap
    assert weight(ModelStat(n=1000, mean=0, ts=0), 0, CFG) == 0.5
    cfg = LearningConfig(weight=0.5, prior_strength=10.0, half_life_s=100.0)
    assert weight(ModelStat(n=10, mean=0, ts=0), 100.0, cfg) == pytest.approx(5 / 15)


def test_blend_moves_only_models_with_statistics() -> None:
    stats = {"m2": ModelStat(n=10, mean=0.2, ts=0)}
    b = blend(np.array([0.6, 0.8]), ("head", "prior"), ["m1", "m2"], stats, now=0, cfg=CFG)
    assert b.learned
    assert b.quality.tolist() == pytest.approx([0.6, 0.5 * 0.8 + 0.5 * 0.2])
    assert b.sources == ("head", "prior+feedback")
    none = blend(np.array([0.6]), ("head",), ["m1"], {}, now=0, cfg=CFG)
    assert not none.learned and none.quality.tolist() == [0.6]


def test_reward_and_which_strategies_learn() -> None:
    assert reward({"score": 0.25, "success": True}) == 0.25
    assert reward({"score": None, "success": True}) == 1.0
    assert reward({"success": False}) == 0.0
    assert learns("centroid", CFG) and learns("mlp", CFG)
    assert not learns("cheapest", CFG) and not learns("random", CFG)
    assert not learns("centroid", LearningConfig(0.0, 10.0, 0.0))


async def punish(engine: Engine, n: int, **kw: object) -> list[Decision]:
    """Route the same prompt n times, each time reporting a bad outcome for the choice."""
    out = []
    for i in range(n):
        d = await engine.route(req(request_id=f"r{i}", **kw))  # type: ignore[arg-type]
        await engine.feedback(d.decision_id, {"score": 0.0, "latency_ms": 900.0})
        out.append(d)
    return out


async def test_bad_feedback_moves_traffic_away(tmp_path: Path, tiny_bundle: LoadedBundle) -> None:
    engine = make_engine(tmp_path, tiny_bundle, feedback_weight=0.9, feedback_prior_strength=2)
    first = await engine.route(req())
    before = {s.candidate_id: s for s in first.ranking}
    decisions = await punish(engine, 30)
    served = [d.selected.id for d in decisions]
    assert served[0] == first.selected.id and served[-1] != first.selected.id
    last = await engine.route(req())
    moved = {s.candidate_id: s for s in last.ranking}[first.selected.id]
    assert moved.predicted_quality < before[first.selected.id].predicted_quality
    assert moved.quality_source.endswith("+feedback")
    assert engine.metrics.learned._value.get() > 0
    await engine.close()


async def test_feedback_weight_zero_turns_learning_off(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    engine = make_engine(tmp_path, tiny_bundle, feedback_weight=0.0)
    decisions = await punish(engine, 15)
    assert {d.selected.id for d in decisions} == {decisions[0].selected.id}
    assert all("+feedback" not in s.quality_source for s in decisions[-1].ranking)
    # the statistics are still kept, so turning learning on later starts informed
    model = decisions[0].selected.model
    stats = await engine.store.read_stats(decisions[0].signals.category, [model])
    assert stats.value[model].n > 1 and stats.value[model].mean == 0.0
    await engine.close()


async def test_baselines_are_not_blended(tmp_path: Path, tiny_bundle: LoadedBundle) -> None:
    engine = make_engine(tmp_path, tiny_bundle, feedback_weight=1.0, feedback_prior_strength=1)
    decisions = await punish(engine, 10, strategy="cheapest")
    assert {d.selected.id for d in decisions} == {"cheap"}
    await engine.close()


async def test_feedback_is_idempotent_and_unknown_ids_are_not_found(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    engine = make_engine(tmp_path, tiny_bundle)
    d = await engine.route(req())
    assert await engine.feedback(d.decision_id, {"success": True}) is False
    assert await engine.feedback(d.decision_id, {"success": False}) is True
    stats = await engine.store.read_stats(d.signals.category, [d.selected.model])
    s = stats.value[d.selected.model]
    assert (s.n, s.mean) == (1.0, 1.0)  # the duplicate did not count
    with pytest.raises(RouteIQError) as err:
        await engine.feedback("0" * 32, {"score": 1.0})
    assert err.value.kind is ErrorKind.NOT_FOUND and "unknown or expired" in err.value.message
    await engine.close()
