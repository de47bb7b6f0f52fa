"""Turn LiteLLM deployment dicts into RouteIQ ``Candidate`` JSON.

Prices, context size and capabilities come from LiteLLM's own cost map (``litellm.get_model_info``),
overridden by what the deployment itself declares (``litellm_params`` / ``model_info``), so the
sidecar ranks exactly what LiteLLM would bill. Optional per-deployment hints for RouteIQ live in
``model_info.routeiq``: ``{quality_prior: 0.8, labels: {tier: gold}, capabilities: [...]}``.

A price of 0 or none in the cost map means LiteLLM does not know the price, not that the model
is free (LiteLLM's bundled map lists some current models at $0). A candidate whose input and
output prices are both unknown is sent with no ``input_cost_per_mtok`` / ``output_cost_per_mtok``
at all (absent from the JSON, unset in the proto) and labelled ``price: unknown``, so the
sidecar's own rule for a candidate without a price applies: priced from what its model name
states (a size such as ``70b``, a tier word such as ``mini`` or ``opus``), else at the sidecar's
unknown price; never free, never admitted by ``max_cost_per_mtok`` or profile ``free``, its
``estimated_cost`` -1, warned and counted. When only one of the two prices is known, the
unknown one is sent at the known one's value (labelled ``price: partial``; sent as 0 it made
the candidate look cheaper than it is). A deployment that declares its price
(``input_cost_per_token`` / ``output_cost_per_token`` in ``litellm_params``, 0 included: a
self-hosted model; or a value above 0 in ``model_info``) is taken at its word.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ModelInfoLookup = Callable[[str], Mapping[str, Any] | None]

# RouteIQ capability -> LiteLLM model-info flag.
CAPABILITY_FLAGS: dict[str, str] = {
    "tools": "supports_function_calling",
    "vision": "supports_vision",
    "json": "supports_response_schema",
    "reasoning": "supports_reasoning",
}
PER_MTOK = 1_000_000
PRICE_LABEL = "price"
PRICE_KEYS = ("input_cost_per_token", "output_cost_per_token")


def litellm_model_info(model: str) -> Mapping[str, Any] | None:
    """LiteLLM's cost-map entry for ``model``; None when LiteLLM does not know it."""
    import litellm

    try:
        info = litellm.get_model_info(model)
    except Exception:  # unknown model: LiteLLM raises, the sidecar then uses its priors
        return None
    return dict(info)


class CachedLookup:
    """Memoises a model-info lookup per model name for ``ttl_s`` (the cost map rarely changes)."""

    def __init__(self, lookup: ModelInfoLookup, ttl_s: float = 300.0, max_size: int = 4096) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._max_size = max_size
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Mapping[str, Any] | None]] = {}

    def __call__(self, model: str) -> Mapping[str, Any] | None:
        now = time.monotonic()
        hit = self._cache.get(model)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        info = self._lookup(model)
        with self._lock:
            if len(self._cache) >= self._max_size:
                self._cache.clear()
            self._cache[model] = (now, info)
        return info


def _first(key: str, *sources: Mapping[str, Any] | None) -> Any:
    for src in sources:
        if src is not None:
            value = src.get(key)
            if value is not None:
                return value
    return None


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _as_int(value: Any) -> int:
    try:
        return max(0, min(int(value), 2**31 - 1))
    except (TypeError, ValueError):
        return 0


def _price(
    key: str, params: Mapping[str, Any], info: Mapping[str, Any], cost_map: Mapping[str, Any] | None
) -> float | None:
    """USD per token: declared in ``litellm_params`` (0 included), else a value > 0 in
    ``model_info`` or the cost map; None when unknown."""
    if params.get(key) is not None:
        return _as_float(params[key])
    for src in (info, cost_map or {}):
        value = _as_float(src.get(key))
        if value > 0:
            return value
    return None


def deployment_id(deployment: Mapping[str, Any]) -> str | None:
    """``model_info.id``, the id LiteLLM reports as ``x-litellm-model-id``."""
    info = deployment.get("model_info") or {}
    value = info.get("id")
    return str(value) if value is not None else None


def build_candidate(
    deployment: Mapping[str, Any], lookup: ModelInfoLookup = litellm_model_info
) -> dict[str, Any] | None:
    """One ``Candidate`` (proto JSON) for a deployment; None when it has no ``model_info.id``."""
    cid = deployment_id(deployment)
    if cid is None:
        return None
    params: Mapping[str, Any] = deployment.get("litellm_params") or {}
    info: Mapping[str, Any] = deployment.get("model_info") or {}
    model = str(params.get("model") or deployment.get("model_name") or "")
    base_model = info.get("base_model") or params.get("base_model")
    cost_map = lookup(str(base_model or model)) if model else None
    hints: Mapping[str, Any] = info.get("routeiq") or {}

    capabilities = [
        cap for cap, flag in CAPABILITY_FLAGS.items() if _first(flag, info, params, cost_map)
    ]
    for cap in hints.get("capabilities") or ():
        if cap not in capabilities:
            capabilities.append(str(cap))
    price_in, price_out = (_price(k, params, info, cost_map) for k in PRICE_KEYS)
    out: dict[str, Any] = {"id": cid, "model": model}
    labels = {str(k): str(v) for k, v in dict(hints.get("labels") or {}).items()}
    if price_in is None and price_out is None:
        # No price keys at all: the sidecar's rule for a candidate without a price applies.
        labels[PRICE_LABEL] = "unknown"
    else:
        if price_in is None or price_out is None:  # one known: it stands in for the other
            labels[PRICE_LABEL] = "partial"
        price_in = price_out if price_in is None else price_in
        price_out = price_in if price_out is None else price_out
        out["input_cost_per_mtok"] = (price_in or 0.0) * PER_MTOK
        out["output_cost_per_mtok"] = (price_out or 0.0) * PER_MTOK
    out["max_input_tokens"] = _as_int(_first("max_input_tokens", info, params, cost_map))
    out["capabilities"] = capabilities
    if labels:
        out["labels"] = labels
    if hints.get("quality_prior") is not None:
        out["quality_prior"] = _as_float(hints["quality_prior"])
    return out


def build_candidates(
    deployments: Iterable[Mapping[str, Any]], lookup: ModelInfoLookup = litellm_model_info
) -> tuple[list[dict[str, Any]], dict[str, Mapping[str, Any]]]:
    """Candidates plus the deployment behind each candidate id (first one wins on duplicates)."""
    candidates: list[dict[str, Any]] = []
    by_id: dict[str, Mapping[str, Any]] = {}
    for dep in deployments:
        cand = build_candidate(dep, lookup)
        if cand is None or cand["id"] in by_id:
            continue
        candidates.append(cand)
        by_id[cand["id"]] = dep
    return candidates, by_id
