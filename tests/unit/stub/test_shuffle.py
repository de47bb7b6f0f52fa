"""The SDK strategy's fallback pick behaves like LiteLLM's simple-shuffle."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from routeiq_litellm.shuffle import shuffle_pick


def dep(did: str, **params: Any) -> dict[str, Any]:
    return {"litellm_params": {"model": f"m/{did}", **params}, "model_info": {"id": did}}


def counts(deps: list[dict[str, Any]], n: int = 2000) -> Counter[str]:
    rng = random.Random(7)
    return Counter(shuffle_pick(deps, rng)["model_info"]["id"] for _ in range(n))


def test_weight_decides_then_rpm_then_tpm() -> None:
    assert set(counts([dep("a", weight=1), dep("b", weight=0)])) == {"a"}
    assert set(counts([dep("a", rpm=0), dep("b", rpm=100)])) == {"b"}
    seen = counts([dep("a", tpm=900), dep("b", tpm=100)])
    assert seen["a"] > 4 * seen["b"] > 0


def test_without_weights_every_deployment_is_picked() -> None:
    seen = counts([dep("a"), dep("b"), dep("c")])
    assert set(seen) == {"a", "b", "c"}


def test_nothing_to_pick_is_an_error() -> None:
    with pytest.raises(ValueError, match="no deployment"):
        shuffle_pick([])
