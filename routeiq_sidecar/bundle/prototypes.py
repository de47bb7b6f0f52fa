"""Prototype prompts of the zero-config centroid strategy (written by this project, shipped in
``routeiq_sidecar/strategies/prototypes/``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import yaml


@dataclass(frozen=True)
class Prototypes:
    categories: dict[str, list[str]]
    tiers: dict[str, list[str]]
    digest: str


def load_prototypes() -> Prototypes:
    folder = resources.files("routeiq_sidecar") / "strategies" / "prototypes"
    raw_cat = (folder / "categories.yaml").read_text(encoding="utf-8")
    raw_tier = (folder / "complexity.yaml").read_text(encoding="utf-8")
    cats = yaml.safe_load(raw_cat)["categories"]
    tiers = yaml.safe_load(raw_tier)["tiers"]
    digest = hashlib.sha256((raw_cat + "\0" + raw_tier).encode()).hexdigest()[:12]
    return Prototypes(
        categories={k: [str(p) for p in v["prompts"]] for k, v in cats.items()},
        tiers={k: [str(p) for p in v["prompts"]] for k, v in tiers.items()},
        digest=digest,
    )
