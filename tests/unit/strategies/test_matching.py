"""Candidate names -> trained models: exact, case-insensitive, without provider, aliases."""

from __future__ import annotations

import pytest

from routeiq_sidecar.strategies.matching import ModelIndex

TRAINED = ("gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1", "claude-v2")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gpt-4-1106-preview", 0),  # exact
        ("GPT-4-1106-Preview", 0),  # case-insensitive
        ("openai/gpt-4-1106-preview", 0),  # provider prefix dropped
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 1),
        ("together_ai/mistralai/mixtral-8x7b-instruct-v0.1", 1),  # last segments agree
        ("Mixtral-8x7B-Instruct-v0.1", 1),
        ("bedrock/anthropic.claude-v2", None),  # not the same last segment
        ("gpt-4o", None),
        ("", None),
    ],
)
def test_lookup_rules(name: str, expected: int | None) -> None:
    assert ModelIndex(TRAINED).lookup(name) == expected


def test_aliases_use_the_same_rules() -> None:
    aliases = {"gpt-4-turbo": "gpt-4-1106-preview", "mixtral": "Mixtral-8x7B-Instruct-v0.1"}
    idx = ModelIndex(TRAINED, aliases)
    assert idx.lookup("openai/GPT-4-Turbo") == 0
    assert idx.lookup("groq/mixtral") == 1
    assert idx.columns(["claude-v2", "nope"]) == [2, None]


def test_exact_name_wins_over_alias() -> None:
    idx = ModelIndex(("a/x", "y"), {"x-alias": "y"})
    assert idx.lookup("a/x") == 0 and idx.lookup("x-alias") == 1


def test_ambiguous_last_segment_is_unknown() -> None:
    idx = ModelIndex(("openai/gpt-4o", "azure/gpt-4o"))
    assert idx.lookup("gpt-4o") is None
    assert idx.lookup("azure/gpt-4o") == 1  # exact still works


def test_alias_to_an_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="not a trained model"):
        ModelIndex(TRAINED, {"x": "gpt-5"})
