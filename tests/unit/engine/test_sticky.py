"""Session stickiness: same deployment while eligible and within the TTL, else it breaks."""

from __future__ import annotations

from pathlib import Path

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.engine.sticky import keep, session_key
from routeiq_sidecar.state.factory import limits_from
from routeiq_sidecar.state.memory import MemoryStore
from routeiq_sidecar.types import Score
from tests.conftest import make_settings
from tests.unit.engine.state_helpers import CANDS, make_engine, req
from tests.unit.state.helpers import FakeClock


def score(cid: str, utility: float, eligible: bool = True) -> Score:
    return Score(cid, cid, 0.5, 0.0, utility, eligible, "" if eligible else "lacks capability x")


RANKING = [score("a", 0.9), score("b", 0.5), score("c", 0.1, eligible=False)]


def test_keep_serves_the_previous_deployment_first() -> None:
    k = keep(RANKING, "b")
    assert k.sticky and k.result == "hit"
    assert [s.candidate_id for s in k.ranking] == ["b", "a", "c"]
    assert "sticky" in k.note and "a" in k.note


def test_keep_breaks_on_an_ineligible_or_missing_deployment() -> None:
    assert keep(RANKING, None).result == "new" and not keep(RANKING, None).sticky
    gone = keep(RANKING, "zzz")
    assert (gone.sticky, gone.result, gone.ranking) == (False, "broken", RANKING)
    out = keep(RANKING, "c")
    assert not out.sticky and out.result == "broken" and "lacks capability" in out.note


def test_session_key_separates_model_groups() -> None:
    assert session_key(req()) is None
    assert session_key(req(session_id="s", model_group="auto")) == "auto:s"
    assert session_key(req(session_id="s")) == "-:s"


async def test_later_turns_stay_on_the_deployment(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    engine = make_engine(tmp_path, tiny_bundle)
    first = await engine.route(req(session_id="s1"))
    assert not first.sticky
    for prompt in ("Now prove the Riemann hypothesis in Lean", "thanks!", "x" * 300):
        d = await engine.route(req(prompt, session_id="s1"))
        assert d.sticky and d.selected.id == first.selected.id
        assert d.ranking[0].candidate_id == first.selected.id
    other = await engine.route(req(session_id="s2"))
    assert not other.sticky
    assert engine.metrics.sticky.labels("hit")._value.get() == 3
    await engine.close()


async def test_stickiness_breaks_when_the_deployment_becomes_ineligible(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    engine = make_engine(tmp_path, tiny_bundle)
    # pin the session on `cheap` (only candidate), then require a capability only `strong` has
    first = await engine.route(req(session_id="s", candidates=CANDS[:1]))
    assert first.selected.id == "cheap"
    broke = await engine.route(req(session_id="s", required_capabilities=("tools",)))
    assert not broke.sticky and broke.selected.id == "strong"
    assert "session left cheap" in broke.reason
    # the session now lives on `strong`, even where it is not the best utility any more
    later = await engine.route(req("hi", session_id="s", profile="eco"))
    assert later.sticky and later.selected.id == "strong"
    assert engine.metrics.sticky.labels("broken")._value.get() == 1
    await engine.close()


async def test_stickiness_ends_with_the_ttl(tmp_path: Path, tiny_bundle: LoadedBundle) -> None:
    settings = make_settings(tmp_path, sticky_ttl_s=60)
    clock = FakeClock()
    store = MemoryStore(limits_from(settings), clock=clock)
    engine = make_engine(tmp_path, tiny_bundle, store=store, sticky_ttl_s=60)
    await engine.route(req(session_id="s", candidates=CANDS[:1]))
    clock.advance(59)
    assert (await engine.route(req(session_id="s"))).sticky  # refreshes the TTL
    clock.advance(59)
    assert (await engine.route(req(session_id="s"))).sticky
    clock.advance(61)
    assert not (await engine.route(req(session_id="s"))).sticky
    await engine.close()


async def test_sticky_ttl_zero_turns_stickiness_off(
    tmp_path: Path, tiny_bundle: LoadedBundle
) -> None:
    engine = make_engine(tmp_path, tiny_bundle, sticky_ttl_s=0)
    await engine.route(req(session_id="s"))
    assert not (await engine.route(req(session_id="s"))).sticky
    await engine.close()
