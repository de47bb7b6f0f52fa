"""Strategy predictions run off the event loop: a slow head does not hold up other requests.

The slow strategy blocks in ``predict`` until the test releases it. Were prediction on the event
loop, the fast request could not even start until the slow one finished; the test checks the
order in which the requests finish, not how long they took.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.config import Experiment
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.strategies.base import QualityEstimate, StrategyInput
from routeiq_sidecar.strategies.centroid import CentroidStrategy
from routeiq_sidecar.strategies.registry import Strategies, build_strategies
from tests.conftest import make_settings
from tests.unit.engine.state_helpers import req

SAFETY_S = 30.0  # only bounds a regression (the blocked loop then finishes "slow" first)


class SlowStrategy:
    """Centroid's answer, given only once the test lets it go."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.entered = threading.Event()
        self.release = threading.Event()

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        self.entered.set()
        self.release.wait(SAFETY_S)
        return CentroidStrategy().predict(inp)


def engine_with(tmp_path: Path, bundle: LoadedBundle, slow: SlowStrategy, **kw: object) -> Engine:
    built = build_strategies(bundle)
    strategies = Strategies({**built.by_name, slow.name: slow}, built.known_models)
    return Engine(
        make_settings(tmp_path, **kw), bundle, Catalogue.empty(), strategies=strategies
    )


async def finish_order(engine: Engine, slow: SlowStrategy, slow_req: object) -> list[str]:
    done: list[str] = []

    async def run(name: str, inp: object) -> None:
        await engine.route(inp)  # type: ignore[arg-type]
        done.append(name)

    blocked = asyncio.create_task(run("slow", slow_req))
    await asyncio.to_thread(slow.entered.wait, SAFETY_S)
    assert slow.entered.is_set(), "the slow strategy was never asked"
    await run("fast", req(request_id="fast", strategy="centroid"))
    slow.release.set()
    await blocked
    return done


async def test_a_slow_strategy_does_not_delay_other_requests(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    slow = SlowStrategy("slow")
    engine = engine_with(tmp_path, tiny_bundle, slow)
    try:
        order = await finish_order(engine, slow, req(request_id="slow", strategy="slow"))
    finally:
        slow.release.set()
        await engine.close()
    assert order == ["fast", "slow"]


async def test_a_slow_shadow_strategy_does_not_delay_other_requests(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    slow = SlowStrategy("slow_shadow")
    exp = Experiment.model_validate(
        {
            "name": "ab",
            "arms": [{"name": "only", "strategy": "centroid"}],
            "shadow_strategy": "slow_shadow",
        }
    )
    engine = engine_with(tmp_path, tiny_bundle, slow, experiments=[exp.model_dump()])
    try:
        order = await finish_order(engine, slow, req(request_id="slow", user_id="u1"))
    finally:
        slow.release.set()
        await engine.close()
    assert order == ["fast", "slow"]


async def test_the_engine_counts_the_decisions_under_way(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    """``Engine.routing`` (what a prediction run waits for under load, engine/coalesce.py)
    counts a decision while it is being made, and not after it ended, refused or not."""
    slow = SlowStrategy("slow")
    engine = engine_with(tmp_path, tiny_bundle, slow)
    try:
        assert engine.routing == 0
        blocked = asyncio.create_task(engine.route(req(request_id="slow", strategy="slow")))
        await asyncio.to_thread(slow.entered.wait, SAFETY_S)
        assert engine.routing == 1
        slow.release.set()
        await blocked
        assert engine.routing == 0
        try:
            await engine.route(req(request_id="bad", strategy="no-such-strategy"))
        except Exception as exc:  # refused: the count goes back all the same
            assert "no-such-strategy" in str(exc)
        else:
            raise AssertionError("an unknown strategy was not refused")
        assert engine.routing == 0
    finally:
        slow.release.set()
        await engine.close()
