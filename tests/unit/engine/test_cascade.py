"""The static and cascade encoders in the engine: which tier answers, timings, the metric."""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.engine.cascade import EscalationShare, category_margin, decision_margin
from routeiq_sidecar.types import Score, Signals
from tests.unit.engine.state_helpers import make_engine, req

PROMPTS = [
    "Write a haiku about the sea",
    "Prove that there are infinitely many primes.",
    "hi",
    "Refactor this Python class to use dataclasses and add type hints throughout.",
    "What is the capital of France?",
    "Design a distributed rate limiter for a global API with strong consistency.",
    "Translate 'good morning' into Spanish.",
    "Summarise the causes of the First World War in three paragraphs.",
]


def score(cid: str, utility: float, eligible: bool = True) -> Score:
    return Score(cid, cid, 0.5, 0.0, utility, eligible, "")


def test_decision_margin_counts_eligible_candidates_only() -> None:
    ranking = [score("a", 0.9), score("b", 0.95, eligible=False), score("c", 0.7)]
    assert decision_margin(ranking) == pytest.approx(0.2)
    assert decision_margin([score("a", 0.9), score("b", 0.1, eligible=False)]) == math.inf


def test_category_margin() -> None:
    s = Signals("code", "simple", 0.6, 0.2, 10, {"code": 0.6, "math": 0.3, "chat": 0.1})
    assert category_margin(s) == pytest.approx(0.3)
    assert category_margin(replace(s, category_scores={"code": 1.0})) == math.inf


def test_escalation_share() -> None:
    share = EscalationShare()
    assert [share.note(e) for e in (True, False, False, True)] == [1.0, 0.5, 1 / 3, 0.5]


@pytest.fixture(scope="module")
def static_bundle(tiny_bundle_path: Path) -> LoadedBundle:
    return load_bundle(tiny_bundle_path, encoder="static")


@pytest.fixture(scope="module")
def cascade_bundle(tiny_bundle_path: Path) -> LoadedBundle:
    return load_bundle(tiny_bundle_path, encoder="cascade")


async def test_static_engine_answers_from_the_static_vectors(
    tmp_path: Path, static_bundle: LoadedBundle
) -> None:
    engine = make_engine(tmp_path, static_bundle)
    d = await engine.route(req(PROMPTS[1]))
    t = d.timings
    assert (t.encoder, t.escalated, t.escalated_share) == ("static", False, 0.0)
    vec = static_bundle.encoder.encode([PROMPTS[1]]).vectors[0]
    want = static_bundle.classifier.classify(vec, d.signals.estimated_prompt_tokens)
    assert d.signals.category == want.category
    assert d.signals.complexity_score == pytest.approx(want.complexity_score, abs=1e-6)
    assert engine.metrics.cascade.labels("static")._value.get() == 0  # not a cascade
    await engine.close()


async def test_cascade_escalates_exactly_the_near_ties(
    tmp_path: Path,
    static_bundle: LoadedBundle,
    cascade_bundle: LoadedBundle,
    tiny_bundle: LoadedBundle,
) -> None:
    static = make_engine(tmp_path, static_bundle)
    minilm = make_engine(tmp_path, tiny_bundle)
    margins = [decision_margin((await static.route(req(p))).ranking) for p in PROMPTS]
    cut = float(np.median(margins))
    escalates = [m < cut for m in margins]
    assert 0 < sum(escalates) < len(PROMPTS)  # the test covers both answers
    cascade = make_engine(tmp_path, cascade_bundle, cascade_margin=cut)
    for prompt, up in zip(PROMPTS, escalates, strict=True):
        d = await cascade.route(req(prompt))
        want = await (minilm if up else static).route(req(prompt))
        assert d.timings.escalated is up
        assert d.timings.encoder == ("minilm" if up else "static")
        assert [s.candidate_id for s in d.ranking] == [s.candidate_id for s in want.ranking]
        assert [s.utility for s in d.ranking] == pytest.approx([s.utility for s in want.ranking])
        assert d.signals.category == want.signals.category
    n = sum(escalates)
    assert d.timings.escalated_share == pytest.approx(n / len(PROMPTS))
    assert cascade.metrics.cascade.labels("minilm")._value.get() == n
    assert cascade.metrics.cascade.labels("static")._value.get() == len(PROMPTS) - n
    for e in (static, minilm, cascade):
        await e.close()


async def test_margin_zero_never_escalates_and_baselines_never_do(
    tmp_path: Path, cascade_bundle: LoadedBundle
) -> None:
    never = make_engine(tmp_path, cascade_bundle, cascade_margin=0.0)
    always = make_engine(tmp_path, cascade_bundle, cascade_margin=1.0)
    for p in PROMPTS[:3]:
        assert not (await never.route(req(p))).timings.escalated
        assert (await always.route(req(p))).timings.escalated  # gaps on the tiny model are < 1
        cheapest = await always.route(req(p, strategy="cheapest"))
        assert not cheapest.timings.escalated and cheapest.timings.encoder == "static"
    for e in (never, always):
        await e.close()


async def test_classify_escalates_on_a_close_category_call(
    tmp_path: Path, cascade_bundle: LoadedBundle
) -> None:
    never = make_engine(tmp_path, cascade_bundle, cascade_margin=0.0)
    always = make_engine(tmp_path, cascade_bundle, cascade_margin=1.0)
    c = await never.classify("r", (), PROMPTS[0])
    assert (c.timings.encoder, c.timings.escalated) == ("static", False)
    c = await always.classify("r", (), PROMPTS[0])
    assert (c.timings.encoder, c.timings.escalated, c.timings.escalated_share) == (
        "minilm", True, 1.0)
    for e in (never, always):
        await e.close()


class HeldEncoder:
    """The real MiniLM-tier encoder, held until released (a MiniLM pass slower than the
    request's deadline, without timing anything)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.tokenizer, self.dim = inner, inner.tokenizer, inner.dim
        self.release = threading.Event()

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.release.wait(30)
        return np.asarray(self.inner.run(ids, mask))

    def encode(self, texts: list[str]) -> Any:
        self.release.wait(30)
        return self.inner.encode(texts)


async def test_a_late_minilm_pass_leaves_the_static_answer(
    tmp_path: Path, tiny_bundle_path: Path
) -> None:
    b = load_bundle(tiny_bundle_path, encoder="cascade")
    assert b.escalation is not None
    held = HeldEncoder(b.escalation.encoder)
    b.escalation = replace(b.escalation, encoder=held)
    engine = make_engine(tmp_path, b, cascade_margin=1.0)
    try:
        d = await engine.route(req(PROMPTS[1], deadline_ms=300))
        assert not d.degraded and not d.timings.escalated and d.timings.encoder == "static"
        assert "cascade: deadline reached before MiniLM, static answer" in d.reason
        assert d.strategy == "centroid"
    finally:
        held.release.set()
        await engine.close()
