"""Server-side candidates per model group, from the YAML file named by ``catalogue``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from routeiq_sidecar.errors import RouteIQError, invalid
from routeiq_sidecar.types import CAPABILITIES, CandidateSpec

_FIELDS = {
    "id",
    "model",
    "input_cost_per_mtok",
    "output_cost_per_mtok",
    "max_input_tokens",
    "capabilities",
    "quality_prior",
    "labels",
}


@dataclass(frozen=True)
class Catalogue:
    groups: dict[str, tuple[CandidateSpec, ...]]

    @classmethod
    def empty(cls) -> Catalogue:
        return cls({})

    def candidates(self, group: str) -> tuple[CandidateSpec, ...] | None:
        return self.groups.get(group)


def candidate_from_mapping(raw: Any, where: str) -> CandidateSpec:
    """Validate one candidate (catalogue entry, CLI flag); errors name ``where``."""
    if not isinstance(raw, dict):
        raise invalid(where, "must be a mapping with at least id and model")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise invalid(where, f"unknown field(s) {', '.join(unknown)}")
    cid, model = raw.get("id"), raw.get("model", raw.get("id"))
    if not isinstance(cid, str) or not cid.strip():
        raise invalid(f"{where}.id", "must be a non-empty string")
    if not isinstance(model, str) or not model.strip():
        raise invalid(f"{where}.model", "must be a non-empty string")
    caps = raw.get("capabilities") or []
    if not isinstance(caps, list) or any(c not in CAPABILITIES for c in caps):
        raise invalid(f"{where}.capabilities", f"must be a list of {', '.join(CAPABILITIES)}")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise invalid(f"{where}.labels", "must be a mapping")
    try:
        prior = raw.get("quality_prior")
        return CandidateSpec(
            id=cid,
            model=model,
            input_cost_per_mtok=float(raw.get("input_cost_per_mtok", 0.0)),
            output_cost_per_mtok=float(raw.get("output_cost_per_mtok", 0.0)),
            max_input_tokens=int(raw.get("max_input_tokens", 0)),
            capabilities=tuple(caps),
            quality_prior=None if prior is None else float(prior),
            labels={str(k): str(v) for k, v in labels.items()},
            price_known="input_cost_per_mtok" in raw or "output_cost_per_mtok" in raw,
        )
    except (TypeError, ValueError) as exc:
        raise invalid(where, f"bad number ({exc})") from None


def load_catalogue(path: Path | None) -> Catalogue:
    if path is None:
        return Catalogue.empty()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise invalid("catalogue", f"cannot read {path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("model_groups"), dict):
        raise invalid("catalogue", f"{path}: expected a top-level 'model_groups' mapping")
    groups: dict[str, tuple[CandidateSpec, ...]] = {}
    for name, entries in raw["model_groups"].items():
        if not isinstance(entries, list) or not entries:
            raise invalid(f"catalogue.model_groups.{name}", "must be a non-empty list")
        groups[str(name)] = tuple(
            candidate_from_mapping(e, f"catalogue.model_groups.{name}[{i}]")
            for i, e in enumerate(entries)
        )
    return Catalogue(groups)


__all__ = ["Catalogue", "RouteIQError", "candidate_from_mapping", "load_catalogue"]
