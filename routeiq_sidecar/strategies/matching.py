"""Match request candidates to the models a trained head knows, by model name.

A candidate's ``model`` (e.g. ``openai/gpt-4o``,
``together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1``) is looked up in this order; the first
rule that finds exactly one trained model wins:

1. the exact trained name;
2. the same name, case-insensitive;
3. the name without its provider prefix (the part after the last ``/``), case-insensitive,
   against the trained names' own last segments (``openai/gpt-4o`` -> ``gpt-4o``);
4. the bundle's ``aliases`` (``{alias: trained name}`` in the manifest, set with
   ``train --alias ALIAS=MODEL``), with rules 1-3 applied to the alias.

A name that matches several trained models at one rule (two providers with the same last
segment) is ambiguous and counts as unknown. Unknown candidates get ``StrategyInput.priors``:
their ``quality_prior``, else the price prior (strategies/priors.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from routeiq_sidecar.model_names import last_segment
from routeiq_sidecar.types import CandidateSpec


def _unique(table: dict[str, set[int]], key: str) -> int | None:
    hits = table.get(key)
    return next(iter(hits)) if hits is not None and len(hits) == 1 else None


class ModelIndex:
    """Trained model names (column order of a head) plus aliases."""

    def __init__(self, models: Sequence[str], aliases: Mapping[str, str] | None = None) -> None:
        self.models = tuple(models)
        self._exact = {m: i for i, m in enumerate(self.models)}
        self._lower: dict[str, set[int]] = {}
        self._seg: dict[str, set[int]] = {}
        for i, m in enumerate(self.models):
            self._lower.setdefault(m.lower(), set()).add(i)
            self._seg.setdefault(last_segment(m), set()).add(i)
        self.aliases: dict[str, str] = {}
        for alias, target in (aliases or {}).items():
            if self._by_name(target) is None:
                raise ValueError(f"alias {alias!r} points to {target!r}, not a trained model")
            self.aliases[alias] = target
        self._alias_index = (
            ModelIndex(list(self.aliases)) if self.aliases else None
        )

    def _by_name(self, name: str) -> int | None:
        if name in self._exact:
            return self._exact[name]
        hit = _unique(self._lower, name.strip().lower())
        return hit if hit is not None else _unique(self._seg, last_segment(name))

    def lookup(self, name: str) -> int | None:
        """Column of the trained model ``name`` stands for, or None (see the module docstring)."""
        hit = self._by_name(name)
        if hit is not None or self._alias_index is None:
            return hit
        a = self._alias_index._by_name(name)
        return None if a is None else self._by_name(self.aliases[self._alias_index.models[a]])

    def columns(self, names: Iterable[str]) -> list[int | None]:
        return [self.lookup(n) for n in names]

    def match(self, candidates: Sequence[CandidateSpec]) -> list[int | None]:
        return self.columns(c.model for c in candidates)
