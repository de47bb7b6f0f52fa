"""With the state store down, routing goes on (not sticky, not learned) and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.state.factory import limits_from
from routeiq_sidecar.state.redis_store import RedisStore
from routeiq_sidecar.telemetry.metrics import Metrics
from tests.conftest import make_settings
from tests.redis_support import free_port
from tests.unit.engine.state_helpers import make_engine, req


async def test_routing_continues_without_redis(tmp_path: Path, tiny_bundle: LoadedBundle) -> None:
    experiments = [{"name": "ab", "arms": [{"name": "a", "strategy": "centroid"}]}]
    settings = make_settings(tmp_path)
    metrics = Metrics()
    # a real Redis client aimed at a port where nothing listens: what a lost Redis looks like
    dead = RedisStore(f"redis://127.0.0.1:{free_port()}/0", limits_from(settings), metrics=metrics)
    engine = make_engine(
        tmp_path, tiny_bundle, store=dead, metrics=metrics, experiments=experiments
    )
    decisions = [await engine.route(req(session_id="s", user_id="u")) for _ in range(5)]
    for d in decisions:
        assert not d.sticky and not d.degraded
        assert "shared state unavailable" in d.reason
        assert d.experiment == "ab" and d.arm == "a"  # assignment needs no shared state
        assert all("+feedback" not in s.quality_source for s in d.ranking)
    assert metrics.state_degraded._value.get() == 5
    assert metrics.sticky.labels("unavailable")._value.get() == 5
    assert metrics.state_errors.labels("get_sticky")._value.get() >= 1
    with pytest.raises(RouteIQError) as err:
        await engine.feedback(decisions[0].decision_id, {"score": 1.0})
    assert err.value.kind is ErrorKind.UNAVAILABLE and "not recorded" in err.value.message
    assert engine.experiment_report()[0].arms[0].decisions == 5  # counted locally meanwhile
    await engine.close()
