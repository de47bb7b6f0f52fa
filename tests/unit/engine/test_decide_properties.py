"""Property tests of the decision rule (hypothesis): the choice between two candidates never
depends on a third, and ``eco`` never picks a more expensive candidate than ``auto``; unpriced
candidates carry names that state a size, a tier or nothing (priced from the name, model_names.py,
or at the unknown price)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from routeiq_sidecar.engine.decide import PROFILE_LAMBDA, Constraints, rank
from routeiq_sidecar.types import CandidateSpec, Signals

SIG = Signals("code", "medium", 0.9, 0.5, 100)
K = Constraints((), None, 100, "auto")

price = st.one_of(st.just(0.0), st.floats(min_value=0.001, max_value=500.0))
NAMES = ("acme/model", "org/llama-3-70b", "org/qwen-7b", "org/mixtral-8x7b", "vendor/x-mini",
         "vendor/x-opus", "gpt-3.5-turbo", "org/tiny-0.5b")
candidate = st.tuples(
    price, price, st.floats(min_value=0.0, max_value=1.0), st.booleans(), st.sampled_from(NAMES)
)


Raw = list[tuple[float, float, float, bool, str]]


def build(raw: Raw) -> tuple[tuple[CandidateSpec, ...], list[float]]:
    cands = tuple(
        CandidateSpec(f"c{i}", name, inp, out, price_known=known)
        for i, (inp, out, _, known, name) in enumerate(raw)
    )
    return cands, [q for _, _, q, _, _ in raw]


def pick(cands: tuple[CandidateSpec, ...], quality: list[float], lam: float) -> str:
    ranked = rank(cands, np.asarray(quality), ("head",) * len(cands), constraints=K, lam=lam,
                  signals=SIG, output_tokens=256)
    return ranked[0].candidate_id


@settings(max_examples=300, deadline=None)
@given(st.lists(candidate, min_size=1, max_size=6), candidate,
       st.floats(min_value=0.0, max_value=5.0))
def test_an_unselected_candidate_never_changes_the_choice(
    raw: Raw, extra: tuple[float, float, float, bool, str], lam: float,
) -> None:
    cands, quality = build([*raw, extra])
    chosen = pick(cands, quality, lam)
    if chosen != f"c{len(raw)}":  # the added candidate was not selected
        assert pick(cands[:-1], quality[:-1], lam) == chosen


@settings(max_examples=300, deadline=None)
@given(st.lists(candidate, min_size=1, max_size=6))
def test_eco_never_picks_a_more_expensive_candidate_than_auto(raw: Raw) -> None:
    cands, quality = build(raw)
    by_id = {c.id: c for c in cands}
    eco = by_id[pick(cands, quality, PROFILE_LAMBDA["eco"])]
    auto = by_id[pick(cands, quality, PROFILE_LAMBDA["auto"])]
    assert eco.effective_price_per_mtok <= auto.effective_price_per_mtok
