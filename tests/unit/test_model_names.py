"""What a model's name says about its size or tier (model_names.py), and how an unpriced
candidate is priced from it: sizes and tiers read from real model names, names that state
neither left alone, any text answered (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routeiq_sidecar.model_names import (
    MAX_PRICE,
    MIN_PRICE,
    SMALL_TIER_PRICE,
    TOP_TIER_PRICE,
    family,
    lineage,
    name_price_per_mtok,
    size_billions,
    tier,
)
from routeiq_sidecar.types import UNKNOWN_PRICE_PER_MTOK, CandidateSpec


@pytest.mark.parametrize(("name", "size"), [
    ("meta-llama/Llama-3-70b-chat-hf", 70.0),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 8.0),
    ("Qwen/Qwen2.5-72B-Instruct", 72.0),
    ("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", 1.5),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", 8 * 7 * 0.6),
    ("Qwen/Qwen3-30B-A3B", 30.0),  # a3b: the active parameters, not a size
    ("llama-3.3-nemotron-super-49b-v1", 49.0),
    ("itpossible/Chinese-Mistral-7B-v0.1", 7.0),
    ("WizardLM/WizardLM-13B-V1.2", 13.0),
    ("gpt-4-1106-preview", None),  # a date, not a size
    ("gpt-4-32k", None),  # a context length
    ("claude-v1", None),
    ("phi-3.5-mini", None),
    ("", None),
])
def test_sizes_read_from_real_names(name: str, size: float | None) -> None:
    got = size_billions(name)
    assert got == (None if size is None else pytest.approx(size))


@pytest.mark.parametrize(("name", "want"), [
    ("gpt-4o-mini", "small"), ("openai/gpt-4.1-nano", "small"),
    ("claude-3-haiku-20240307", "small"), ("gemini-1.5-flash", "small"),
    ("mistral-small-latest", "small"), ("claude-instant-v1", "small"),
    ("gpt-3.5-turbo-1106", "small"), ("claude-3-opus-20240229", "top"), ("gemini-ultra", "top"),
    ("gpt-4o", None), ("claude-3-5-sonnet", None), ("minimax-m1", None),  # whole words only
    ("smallville-chat", None),
])
def test_tier_words_are_whole_parts_of_the_name(name: str, want: str | None) -> None:
    assert tier(name) == want


def test_a_stated_size_wins_over_a_tier_word_and_prices_grow_with_size() -> None:
    assert name_price_per_mtok("gemini-1.5-flash-8b") == name_price_per_mtok("llama-8b")
    ladder = ["qwen-0.5b", "qwen-7b", "qwen-14b", "qwen-72b", "llama-405b"]
    prices = [name_price_per_mtok(n) for n in ladder]
    assert all(p is not None for p in prices)
    assert prices == sorted(prices) and len(set(prices)) == len(prices)
    assert name_price_per_mtok("gpt-4o-mini") == SMALL_TIER_PRICE
    assert name_price_per_mtok("claude-3-opus") == TOP_TIER_PRICE
    assert name_price_per_mtok("gpt-4o") is None


def test_an_unpriced_candidate_is_priced_from_its_name_but_stays_unknown() -> None:
    mini = CandidateSpec("m", "openai/gpt-4o-mini", price_known=False)
    big = CandidateSpec("b", "openai/gpt-4o", price_known=False)
    sent = CandidateSpec("s", "openai/gpt-4o-mini", 0.15, 0.6)
    assert mini.name_priced and mini.effective_price_per_mtok == SMALL_TIER_PRICE
    assert not mini.is_free and not mini.price_known
    assert not big.name_priced and big.effective_price_per_mtok == UNKNOWN_PRICE_PER_MTOK
    assert not sent.name_priced and sent.effective_price_per_mtok == sent.blended_cost_per_mtok


@given(st.text(max_size=400))
def test_any_name_gets_a_bounded_price_or_none(name: str) -> None:
    p = name_price_per_mtok(name)
    assert p is None or MIN_PRICE <= p <= MAX_PRICE
    s = size_billions(name)
    assert s is None or s > 0


@pytest.mark.parametrize(("name", "want"), [
    ("Qwen/Qwen2.5-72B-Instruct", "qwen2.5-instruct"),
    ("qwen2.5-7b-instruct", "qwen2.5-instruct"),
    ("meta-llama/Llama-3-70b-chat-hf", "llama-3-chat-hf"),
    ("meta/llama-2-70b-chat", "llama-2-chat"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-instruct-v0.1"),
    ("gpt-4o", None), ("x/7b", None),
])
def test_family_is_the_name_without_provider_and_size(name: str, want: str | None) -> None:
    assert family(name) == want


@pytest.mark.parametrize(("fam", "want"), [
    ("llama-3.3-instruct", "llama-3-instruct"), ("llama-3.1-instruct", "llama-3-instruct"),
    ("qwen2.5-instruct", "qwen2-instruct"), ("mixtral-instruct-v0.1", "mixtral-instruct-v0"),
    ("gemma-2-it", "gemma-2-it"), ("gemma-3-it", "gemma-3-it"), ("llama-2-chat", "llama-2-chat"),
])
def test_lineage_drops_minor_versions_only(fam: str, want: str) -> None:
    assert lineage(fam) == want
