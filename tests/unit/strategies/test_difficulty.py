"""`difficulty`: one difficulty score, any candidate list (no model shared with training)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.base import StrategyInput
from routeiq_sidecar.strategies.difficulty import (
    MID_STANDING,
    STANDING_WEIGHT,
    DifficultyHead,
    DifficultyStrategy,
    quality,
    standing_shift,
)
from routeiq_sidecar.strategies.priors import HIGH_Q, capability_priors, price_prior
from routeiq_sidecar.text import SelectedText
from routeiq_sidecar.training.difficulty import FilePart, abilities, failure_target, fit_difficulty
from routeiq_sidecar.types import CandidateSpec, Signals

from .test_baselines import pick

DIM = 8


def _parts(seed: int = 0) -> list[FilePart]:
    """Two synthetic files: hard prompts sit near one direction and are long, easy near another;
    the files have different model sets and score levels."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, models, levels in (("a", ("big-a", "small-a"), (0.9, 0.5)),
                                 ("b", ("big-b", "mid-b", "small-b"), (0.8, 0.6, 0.3))):
        n = 120
        hard = rng.random(n) < 0.5
        emb = rng.normal(0, 0.3, (n, DIM))
        emb[:, 0] += np.where(hard, 1.0, -1.0)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        tokens = np.where(hard, rng.integers(200, 400, n), rng.integers(5, 30, n)).astype(float)
        p = np.asarray(levels)[None, :] - np.where(hard, 0.4, -0.1)[:, None] * np.arange(
            1, len(models) + 1)[None, :] / len(models)
        scores = (rng.random((n, len(models))) < np.clip(p, 0, 1)).astype(float)
        parts.append(FilePart(name, emb.astype(np.float32), tokens, scores, models))
    return parts


def _vec(hard: bool) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[0] = 1.0 if hard else -1.0
    return v


def test_failure_target_is_per_file_z_scored() -> None:
    t = failure_target(np.asarray([[1, 1], [0, 1], [0, 0], [np.nan, 0.0]]))
    assert abs(t.mean()) < 1e-9 and abs(t.std() - 1) < 1e-9
    assert t[0] < t[1] < t[2] == t[3]


def test_abilities_are_standings_on_the_prior_scale() -> None:
    models, ab = abilities(_parts())
    by = dict(zip(models, ab, strict=True))
    assert by["big-a"] == 0.95 and by["small-a"] == 0.50
    assert by["big-b"] > by["mid-b"] > by["small-b"]


def test_fit_predicts_hard_prompts_harder_and_round_trips(tmp_path: Path) -> None:
    head = fit_difficulty(_parts(), k=5, blend=0.5)
    d = head.difficulty(np.stack([_vec(True), _vec(False)]), np.asarray([300.0, 10.0]))
    assert 0.0 <= d[1] < d[0] <= 1.0
    head.save(tmp_path / "d.npz")
    again = DifficultyHead.load(tmp_path / "d.npz")
    np.testing.assert_allclose(
        again.difficulty(np.stack([_vec(True), _vec(False)]), np.asarray([300.0, 10.0])), d,
        atol=1e-3)
    assert again.models == head.models and again.k == 5


def test_max_rows_bounds_the_memory() -> None:
    head = fit_difficulty(_parts(), max_rows=50)
    assert head.embeddings.shape[0] == 100


def test_length_scale_and_quality() -> None:
    head = fit_difficulty(_parts(), blend=0.0)
    d = head.difficulty(np.zeros((3, DIM), np.float32), np.asarray([1.0, 45.0, 5000.0]))
    np.testing.assert_allclose(d, [0.0, np.log(45) / np.log(2048), 1.0])  # as `length`
    out = quality(np.asarray([0.0, 1.0]), np.asarray([0.6, 0.9]))
    np.testing.assert_allclose(out, [[1.0, 1.0], [0.6, 0.9]])


def _input(hard: bool, cands: tuple[CandidateSpec, ...]) -> StrategyInput:
    priors, sources = capability_priors(cands)
    tokens = 600 if hard else 3
    text = SelectedText("x", tokens, 1, False)
    signals = Signals("factual_qa", "simple", 0.8, 0.1, tokens)
    return StrategyInput(_vec(hard), text, signals, cands, priors, sources, 1)


UNKNOWN = (CandidateSpec("cheap", "acme/tiny-1", 0.1, 0.2),
           CandidateSpec("pricey", "acme/huge-9", 10.0, 30.0))


def test_unknown_models_cheap_on_easy_prompts_strong_on_hard_ones() -> None:
    strategy = DifficultyStrategy(fit_difficulty(_parts(), k=5, blend=0.5))
    easy, hard = strategy.predict(_input(False, UNKNOWN)), strategy.predict(_input(True, UNKNOWN))
    assert all(s.endswith("+price") for s in easy.sources)
    assert hard.quality[1] - hard.quality[0] > 2 * (easy.quality[1] - easy.quality[0])
    assert pick(strategy, _input(False, UNKNOWN)) == "cheap"
    assert pick(strategy, _input(True, UNKNOWN), profile="premium") == "pricey"


def test_known_models_use_their_learned_ability() -> None:
    """At the same price the learned standing decides; it moves a model within its price tier
    and does not overturn a fifty-fold price difference."""
    strategy = DifficultyStrategy(fit_difficulty(_parts(), k=5))
    same = (CandidateSpec("s", "provider/small-a", 1.0, 1.0), CandidateSpec("b", "big-a", 1.0, 1.0))
    est = strategy.predict(_input(True, same))
    assert est.sources == ("difficulty+learned", "difficulty+learned")
    assert est.quality[1] > est.quality[0]  # the learned standing
    apart = (CandidateSpec("s", "provider/small-a", 5.0, 5.0),
             CandidateSpec("b", "big-a", 0.1, 0.1))
    est = strategy.predict(_input(True, apart))
    assert est.quality[0] > est.quality[1]  # the price tier


def test_an_unknown_sibling_is_placed_by_the_learned_one() -> None:
    """A model the head does not know but whose family it does (same name but the size) gets
    the closest-sized sibling's standing as a shift of its own price prior (its size speaks
    through that price); a declared quality_prior wins; no sibling: the prior alone."""
    head = replace(fit_difficulty(_parts(), k=5), models=("org/qwen2.5-7b-instruct",
                                                          "org/qwen2.5-14b-instruct", "big-b"),
                   abilities=np.asarray([0.60, 0.90, 0.90]))
    strategy = DifficultyStrategy(head)
    cands = (CandidateSpec("big", "Qwen/Qwen2.5-72B-Instruct", 0.9, 0.9),
             CandidateSpec("small", "qwen2.5-3b-instruct", price_known=False),
             CandidateSpec("said", "Qwen/Qwen2.5-32B-Instruct", quality_prior=0.55),
             CandidateSpec("other", "acme/other-70b", price_known=False),
             CandidateSpec("known", "qwen2.5-7b-instruct", price_known=False))
    priors, _ = capability_priors(cands)
    ability, sources = strategy.abilities(_input(True, cands))
    assert sources == ("difficulty+family", "difficulty+family", "difficulty+prior",
                       "difficulty+name", "difficulty+learned")
    assert ability[0] == pytest.approx(standing_shift(priors[0], 0.90))  # from the 14B
    assert ability[1] == pytest.approx(standing_shift(priors[1], 0.60))  # from the 7B
    assert ability[2] == 0.55 and ability[3] == priors[3]
    assert ability[4] == pytest.approx(standing_shift(priors[4], 0.60))
    assert ability[0] > ability[4] > ability[1]


def test_a_standing_moves_a_model_within_its_price_tier_whatever_else_is_listed() -> None:
    """A learned standing is relative to its file (the best of nine small open models is
    0.95, as GPT-4 is in its file): it moves a known model's own prior by at most 0.1125, so a
    $0.20 model its file ranked first stays below a $4.40 one, and a candidate's ability never
    depends on the other candidates."""
    head = replace(fit_difficulty(_parts(), k=5),
                   models=("qwen2.5-7b-instruct", "gemma-2-9b-it", "weakest-7b"),
                   abilities=np.asarray([0.82, 0.95, 0.50]))
    strategy = DifficultyStrategy(head)
    gemma = CandidateSpec("gemma", "gemma-2-9b-it", 0.2, 0.2)
    weak = CandidateSpec("weak", "weakest-7b", 1.0, 1.0)
    frontier = CandidateSpec("frontier", "openai/gpt-4o", 2.5, 10.0)
    ability, sources = strategy.abilities(_input(True, (gemma, weak, frontier)))
    assert sources == ("difficulty+learned", "difficulty+learned", "difficulty+price")
    assert ability[0] == pytest.approx(price_prior(0.2) + STANDING_WEIGHT * (0.95 - MID_STANDING))
    assert ability[1] == pytest.approx(price_prior(1.0) - STANDING_WEIGHT * (MID_STANDING - 0.50))
    assert ability[2] > ability[0] > ability[1]
    for alone in ((gemma,), (gemma, weak), (frontier, gemma)):
        got = dict(zip((c.id for c in alone), strategy.abilities(_input(True, alone))[0],
                       strict=True))
        assert got["gemma"] == pytest.approx(ability[0])
    assert standing_shift(0.94, 0.95) == HIGH_Q and standing_shift(0.52, 0.50) == 0.50


def test_a_sibling_of_another_minor_release_is_placed_when_the_family_has_none() -> None:
    """Llama 3.3 70B next to a learned Llama 3.1 8B (hosted side by side): no model of the
    family llama-3.3-instruct is known, so the 8B of its lineage (llama-3-instruct) places it;
    a known member of the exact family wins over the lineage; another major release (gemma-3
    next to a learned gemma-2) is not placed."""
    head = replace(fit_difficulty(_parts(), k=5),
                   models=("llama-3.1-8b-instruct", "llama-3.3-1b-instruct", "gemma-2-9b-it"),
                   abilities=np.asarray([0.80, 0.55, 0.85]))
    strategy = DifficultyStrategy(head)
    cands = (CandidateSpec("big", "meta-llama/Llama-3.2-70B-Instruct", price_known=False),
             CandidateSpec("exact", "meta-llama/Llama-3.3-70B-Instruct", price_known=False),
             CandidateSpec("gemma", "google/gemma-3-27b-it", price_known=False))
    priors, _ = capability_priors(cands)
    ability, sources = strategy.abilities(_input(True, cands))
    assert sources == ("difficulty+family", "difficulty+family", "difficulty+name")
    assert ability[0] == pytest.approx(standing_shift(priors[0], 0.80))  # the 3.1 8B's
    assert ability[1] == pytest.approx(standing_shift(priors[1], 0.55))  # its own family's
    assert ability[2] == priors[2]


def test_similarity_gate_weights_the_knn_on_prompts_seen_in_training(tmp_path: Path) -> None:
    parts = _parts()
    stored = parts[0].embeddings[:1]  # a training prompt itself: mean cosine of its 5 nearest
    far = np.roll(_vec(True), 3)[None, :]  # orthogonal to the hard/easy axis: no close rows
    tokens = np.asarray([50.0])
    off = fit_difficulty(parts, k=5)
    on = fit_difficulty(parts, k=5, gate=0.7, gate_weight=4.0)
    assert off.gate == np.inf and not off.gated(off.neighbours(stored)[1]).any()
    est, close = on.neighbours(stored)
    assert on.gated(close).all() and not on.gated(on.neighbours(far)[1]).any()
    # where the gate is open the kNN's z moves d (gate_weight more than the blend alone) ...
    z = (est - on.standard[2]) / on.standard[3]
    shift = on.difficulty(stored, tokens) - off.difficulty(stored, tokens)
    expected = on.standard[1] / np.log(2048) * 4.0 * z
    np.testing.assert_allclose(shift, np.clip(expected, -1, 1), atol=1e-9)
    # ... and where it is shut, nothing changes
    np.testing.assert_allclose(on.difficulty(far, tokens), off.difficulty(far, tokens))
    on.save(tmp_path / "g.npz")
    again = DifficultyHead.load(tmp_path / "g.npz")
    assert (again.gate, again.gate_weight) == (0.7, 4.0)
    note = DifficultyStrategy(on).predict(
        StrategyInput(stored[0], SelectedText("x", 50, 1, False),
                      Signals("factual_qa", "simple", 0.8, 0.1, 50), UNKNOWN,
                      *capability_priors(UNKNOWN), 1)).note
    assert "close to stored prompts" in note


def test_a_head_saved_without_the_gate_loads_with_it_shut(tmp_path: Path) -> None:
    head = fit_difficulty(_parts(), k=5)
    head.save(tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["params"] = arrays["params"][:3]  # a head written before the gate existed
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    old = DifficultyHead.load(tmp_path / "old.npz")
    assert old.gate == np.inf and old.gate_weight == 0.0
    arrays["params"] = arrays["params"][:2]
    np.savez_compressed(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BundleError, match="3 or 5 numbers"):
        DifficultyHead.load(tmp_path / "bad.npz")


def test_predicting_several_prompts_at_once_gives_each_its_own_answer() -> None:
    strategy = DifficultyStrategy(fit_difficulty(_parts(), k=5, blend=0.5, gate=0.7,
                                                 gate_weight=2.0))
    cands = (CandidateSpec("s", "provider/small-a", 5.0, 5.0), *UNKNOWN)
    inps = [_input(h, cands) for h in (True, False, False, True)]
    inps.append(StrategyInput(_parts()[0].embeddings[0], SelectedText("x", 50, 1, False),
                              Signals("factual_qa", "simple", 0.8, 0.1, 50), cands,
                              *capability_priors(cands), 1))  # a stored prompt: gate open
    many = strategy.predict_many(inps)
    assert len(many) == len(inps)
    for inp, est in zip(inps, many, strict=True):
        one = strategy.predict(inp)
        np.testing.assert_array_equal(est.quality, one.quality)
        assert (est.sources, est.note) == (one.sources, one.note)
    assert "close to stored prompts" in many[-1].note
    far = replace(inps[0], embedding=np.roll(_vec(True), 3))  # no close rows: gate shut
    both = strategy.predict_many([far, inps[-1]])
    assert "close to stored prompts" not in both[0].note
    assert "close to stored prompts" in both[1].note


KNOWN_HEAD = replace(fit_difficulty(_parts(), k=5),
                     models=("gemma-2-9b-it", "llama-3.1-8b-instruct", "qwen2.5-7b-instruct",
                             "gpt-4-1106-preview", "claude-v2"),
                     abilities=np.asarray([0.85, 0.87, 0.82, 0.95, 0.50]))
MODELS = ("gemma-2-9b-it", "llama-3.1-8b-instruct", "Qwen/Qwen2.5-72B-Instruct",
          "meta-llama/Llama-3.3-70B-Instruct", "gpt-4-1106-preview", "claude-v2",
          "openai/gpt-4o", "openai/gpt-4o-mini", "acme/model", "org/mixtral-8x7b")
price_or_none = st.one_of(st.none(), st.floats(min_value=0.0, max_value=60.0))
raw_candidate = st.tuples(st.sampled_from(MODELS), price_or_none,
                          st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0)))


def _candidates(raw: list[tuple[str, float | None, float | None]]) -> tuple[CandidateSpec, ...]:
    return tuple(
        CandidateSpec(f"c{i}", model, price or 0.0, price or 0.0, quality_prior=prior,
                      price_known=price is not None)
        for i, (model, price, prior) in enumerate(raw))


@settings(max_examples=200, deadline=None)
@given(st.lists(raw_candidate, min_size=1, max_size=5), raw_candidate, st.booleans(),
       st.sampled_from(["auto", "eco", "premium"]))
def test_an_unselected_candidate_never_changes_the_pick(
    raw: list[tuple[str, float | None, float | None]],
    extra: tuple[str, float | None, float | None], hard: bool, profile: str,
) -> None:
    """Issue 13, section 6, through the whole `difficulty` strategy: every candidate's
    ability depends on itself alone (learned standings shift each one's own prior), so a
    candidate that is not chosen never changes which of the others is."""
    strategy = DifficultyStrategy(KNOWN_HEAD)
    cands = _candidates([*raw, extra])
    chosen = pick(strategy, _input(hard, cands), profile)
    if chosen != f"c{len(raw)}":
        assert pick(strategy, _input(hard, cands[:-1]), profile) == chosen
    alone = strategy.abilities(_input(hard, cands[:-1]))[0]
    assert strategy.abilities(_input(hard, cands))[0][:-1] == alone
