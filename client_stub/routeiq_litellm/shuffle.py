"""The SDK strategy's fallback pick: LiteLLM's default ``simple-shuffle`` over the deployments
LiteLLM itself lists as usable.

A strategy installed with ``register_plugin`` (LiteLLM 1.110+) answers every pick, and LiteLLM
offers no public way to ask "your usual pick, without my strategy", so when the sidecar cannot
answer the strategy picks the way LiteLLM's default strategy does: at random, weighted by
``weight``, else ``rpm``, else ``tpm`` (uniform when none is set). The same rule is used on
every release, so a fallback behaves the same everywhere. The proxy plugin needs none of
this: it leaves the candidates untouched and LiteLLM's configured strategy picks.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

WEIGHT_KEYS = ("weight", "rpm", "tpm")


def _weight(deployment: Mapping[str, Any], key: str) -> float | None:
    params = deployment.get("litellm_params") or {}
    value = params.get(key)
    if value is None:
        value = (deployment.get("model_info") or {}).get(key)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def shuffle_pick(
    deployments: Sequence[Mapping[str, Any]], rng: random.Random | None = None
) -> Mapping[str, Any]:
    """One deployment, as LiteLLM's ``simple-shuffle`` would pick it."""
    if not deployments:
        raise ValueError("no deployment to pick from")
    draw = rng or random
    for key in WEIGHT_KEYS:
        weights = [_weight(d, key) for d in deployments]
        if any(w is not None and w > 0 for w in weights):
            return draw.choices(list(deployments), weights=[max(w or 0.0, 0.0) for w in weights])[0]
    return draw.choice(list(deployments))
