"""A/B experiments: deterministic arms by hash, shadow strategies, counts in GetInfo."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from routeiq_sidecar.api.info import info_out
from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.config import ConfigError, Experiment, load_settings
from routeiq_sidecar.engine.experiments import Experiments, assignment_unit, bucket
from tests.unit.engine.state_helpers import make_engine, req

AB = Experiment.model_validate(
    {
        "name": "ab",
        "arms": [
            {"name": "control", "strategy": "centroid", "weight": 3},
            {"name": "cheap", "strategy": "cheapest", "weight": 1},
        ],
        "shadow_strategy": "strongest",
    }
)


def test_bucket_is_stable_and_uniform() -> None:
    assert bucket("ab", "user-1") == bucket("ab", "user-1")
    assert bucket("ab", "user-1") != bucket("other", "user-1")  # experiments are independent
    xs = [bucket("ab", f"u{i}") for i in range(4000)]
    assert all(0 <= x < 1 for x in xs)
    assert 0.45 < sum(x < 0.5 for x in xs) / len(xs) < 0.55


def test_arms_follow_their_weights() -> None:
    exps = Experiments([AB])
    arms = Counter(exps.assign(req(user_id=f"u{i}")).arm for i in range(4000))  # type: ignore[union-attr]
    assert 0.70 < arms["control"] / 4000 < 0.80


def test_assignment_unit_prefers_user_then_session_then_request() -> None:
    assert assignment_unit(req(user_id="u", session_id="s", request_id="r")) == "u"
    assert assignment_unit(req(session_id="s", request_id="r")) == "s"
    assert assignment_unit(req(request_id="r")) == "r"
    exps = Experiments([AB])
    arms = {exps.assign(req(user_id="u7", request_id=f"r{i}")) for i in range(20)}
    assert len(arms) == 1  # one user, one arm, whatever the request


def test_model_groups_limit_an_experiment() -> None:
    only = Experiment.model_validate({**AB.model_dump(), "model_groups": ["chat"]})
    exps = Experiments([only])
    assert exps.assign(req(model_group="code")) is None
    assert exps.assign(req(model_group="chat")) is not None


def test_settings_refuse_bad_experiments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="arm names must be distinct"):
        load_settings(experiments=[{"name": "x", "arms": [{"name": "a", "strategy": "c"}] * 2}])
    with pytest.raises(ConfigError, match="experiment names must be distinct"):
        load_settings(experiments=[AB.model_dump(), AB.model_dump()])
    with pytest.raises(ConfigError, match="weight"):
        load_settings(
            experiments=[{"name": "x", "arms": [{"name": "a", "strategy": "c", "weight": 0}]}]
        )


def test_unknown_strategy_stops_the_start(tmp_path: Path, tiny_bundle: LoadedBundle) -> None:
    bad = {**AB.model_dump(), "shadow_strategy": "nope"}
    with pytest.raises(ConfigError, match="shadow_strategy of experiment 'ab' names unknown"):
        make_engine(tmp_path, tiny_bundle, experiments=[bad])


async def test_engine_serves_arms_with_a_shadow(tmp_path: Path, tiny_bundle: LoadedBundle) -> None:
    engine = make_engine(tmp_path, tiny_bundle, experiments=[AB.model_dump()])
    decisions = [await engine.route(req(user_id=f"u{i}")) for i in range(40)]
    arms = {d.arm for d in decisions}
    assert arms == {"control", "cheap"} and {d.experiment for d in decisions} == {"ab"}
    for d in decisions:
        assert d.strategy == ("centroid" if d.arm == "control" else "cheapest")
        assert d.shadow_strategy == "strongest" and d.shadow_selected_id == "strong"
    override = await engine.route(req(user_id="u1", strategy="random"))
    assert (override.experiment, override.arm, override.shadow_strategy) == ("", "", "")

    for d in decisions:
        await engine.feedback(d.decision_id, {"score": 1.0 if d.arm == "control" else 0.5})
    report = {a.name: a for a in engine.experiment_report()[0].arms}
    n_control = sum(d.arm == "control" for d in decisions)
    assert (
        report["control"].decisions == n_control and report["control"].feedback_count == n_control
    )
    assert report["cheap"].decisions == 40 - n_control
    assert report["cheap"].mean_feedback == pytest.approx(0.5)
    agree = engine.metrics.shadow_decisions.labels("ab", "strongest", "false")._value.get()
    assert agree >= 1

    await asyncio.sleep(0)  # the background refresh from the store gives the same numbers
    await engine.experiments.refresh(engine.store)
    info = info_out(engine)
    (exp,) = info.experiments
    assert exp.name == "ab" and exp.shadow_strategy == "strongest"
    arms_pb = {a.name: a for a in exp.arms}
    assert arms_pb["control"].strategy == "centroid" and arms_pb["control"].weight == 3
    assert arms_pb["control"].decisions == n_control
    assert arms_pb["control"].mean_feedback == pytest.approx(1.0)
    assert arms_pb["cheap"].feedback_count == 40 - n_control
    await engine.close()
