"""Behaviour that depends on the real MiniLM encoder: easy prompts to `cheap`, hard to `strong`.

The prompts live in expected_routes.yaml (written for this project, not in the prototypes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.types import CandidateSpec, RouteInput
from tests.conftest import make_settings

pytestmark = pytest.mark.minilm

EXPECTED = yaml.safe_load((Path(__file__).parent / "expected_routes.yaml").read_text())
CANDS = (
    CandidateSpec("cheap", "openai/gpt-4o-mini", 0.15, 0.6),
    CandidateSpec("strong", "anthropic/claude-opus-4", 15, 75),
)
CASES = [(want, p) for want in ("cheap", "strong") for p in EXPECTED[want]]


@pytest.fixture(scope="module")
def results(
    minilm_bundle: LoadedBundle, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    import asyncio

    async def run() -> dict[str, str]:
        engine = Engine(
            make_settings(tmp_path_factory.mktemp("h")), minilm_bundle, Catalogue.empty()
        )
        out = {}
        for _, prompt in CASES:
            d = await engine.route(RouteInput(request_id="t", prompt=prompt, candidates=CANDS))
            out[prompt] = d.selected.id
        await engine.close()
        return out

    return asyncio.run(run())


def test_at_least_twenty_prompts_each_way() -> None:
    assert len(EXPECTED["cheap"]) >= 15 and len(EXPECTED["strong"]) >= 15 and len(CASES) >= 20


def test_share_routed_as_expected(
    results: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    hits = sum(results[p] == want for want, p in CASES)
    share = hits / len(CASES)
    with capsys.disabled():
        print(f"\nMiniLM centroid routing: {hits}/{len(CASES)} = {share:.0%} as expected")
    assert share >= 0.9, [(w, p) for w, p in CASES if results[p] != w]
