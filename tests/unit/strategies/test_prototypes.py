"""Checks on the prototype prompts of the zero-config `centroid` strategy.

The strategy embeds the prompts of ``routeiq_sidecar/strategies/prototypes/*.yaml``
and averages them per class into centroids, so each class needs enough distinct,
non-empty prompts. ``tests/integration/expected_routes.yaml`` holds held-out prompts
with their expected route, which must not leak into the prototypes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
PROTOTYPES_DIR = REPO_ROOT / "routeiq_sidecar" / "strategies" / "prototypes"
CATEGORIES_FILE = PROTOTYPES_DIR / "categories.yaml"
COMPLEXITY_FILE = PROTOTYPES_DIR / "complexity.yaml"
EXPECTED_ROUTES_FILE = REPO_ROOT / "tests" / "integration" / "expected_routes.yaml"

REQUIRED_CATEGORIES = (
    "code",
    "math",
    "reasoning",
    "creative_writing",
    "factual_qa",
    "summarization_extraction",
    "translation",
    "chit_chat",
    "agentic_tool_use",
    "advice_explanation",
)
REQUIRED_TIERS = ("simple", "medium", "complex")
MIN_PROMPTS_PER_CATEGORY = 30
MIN_PROMPTS_PER_TIER = 60
MIN_EXPECTED_PER_ROUTE = 15
# Two prompts this similar (difflib ratio of their normalized text) are near-copies.
NEAR_DUPLICATE_RATIO = 0.9


@cache
def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _classes(path: Path, key: str) -> dict[str, dict[str, Any]]:
    data = _load(path)
    assert isinstance(data, dict), f"{path.name}: top level must be a mapping"
    assert data.get("version") == 1, f"{path.name}: version must be 1"
    classes = data.get(key)
    assert isinstance(classes, dict) and classes, f"{path.name}: '{key}' must be a mapping"
    return classes


def _category_prompts() -> dict[str, list[str]]:
    return {k: v["prompts"] for k, v in _classes(CATEGORIES_FILE, "categories").items()}


def _tier_prompts() -> dict[str, list[str]]:
    return {k: v["prompts"] for k, v in _classes(COMPLEXITY_FILE, "tiers").items()}


def _expected_routes() -> dict[str, list[str]]:
    data = _load(EXPECTED_ROUTES_FILE)
    assert isinstance(data, dict), "expected_routes.yaml: top level must be a mapping"
    return data


def _normalize(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive key of a prompt."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def _all_prototype_prompts() -> list[tuple[str, str]]:
    """(where, prompt) for every prompt of both prototype files."""
    out = [
        (f"categories.{cls}", p) for cls, prompts in _category_prompts().items() for p in prompts
    ]
    out += [(f"complexity.{cls}", p) for cls, prompts in _tier_prompts().items() for p in prompts]
    return out


@pytest.mark.parametrize(
    ("path", "key", "required"),
    [
        (CATEGORIES_FILE, "categories", REQUIRED_CATEGORIES),
        (COMPLEXITY_FILE, "tiers", REQUIRED_TIERS),
    ],
    ids=["categories", "complexity"],
)
def test_schema(path: Path, key: str, required: tuple[str, ...]) -> None:
    classes = _classes(path, key)
    missing = set(required) - set(classes)
    assert not missing, f"{path.name}: missing classes {sorted(missing)}"
    for name, spec in classes.items():
        assert isinstance(spec, dict), f"{path.name}: {name} must be a mapping"
        assert set(spec) == {"description", "prompts"}, f"{path.name}: {name} keys {set(spec)}"
        assert isinstance(spec["description"], str) and spec["description"].strip()
        assert isinstance(spec["prompts"], list), f"{path.name}: {name}.prompts must be a list"
        for prompt in spec["prompts"]:
            assert isinstance(prompt, str), f"{path.name}: {name}: non-string prompt {prompt!r}"


def test_expected_routes_schema() -> None:
    routes = _expected_routes()
    assert set(routes) == {"cheap", "strong"}
    for route, prompts in routes.items():
        assert isinstance(prompts, list), route
        assert all(isinstance(p, str) for p in prompts), route


@pytest.mark.parametrize("category", REQUIRED_CATEGORIES)
def test_category_counts(category: str) -> None:
    prompts = _category_prompts()[category]
    assert len(prompts) >= MIN_PROMPTS_PER_CATEGORY, (category, len(prompts))


@pytest.mark.parametrize("tier", REQUIRED_TIERS)
def test_tier_counts(tier: str) -> None:
    prompts = _tier_prompts()[tier]
    assert len(prompts) >= MIN_PROMPTS_PER_TIER, (tier, len(prompts))


@pytest.mark.parametrize("route", ["cheap", "strong"])
def test_expected_route_counts(route: str) -> None:
    assert len(_expected_routes()[route]) >= MIN_EXPECTED_PER_ROUTE


def test_no_empty_or_trivial_prompts() -> None:
    everything = _all_prototype_prompts() + [
        (f"expected_routes.{route}", p) for route, ps in _expected_routes().items() for p in ps
    ]
    bad = [(where, p) for where, p in everything if not _normalize(p)]
    assert not bad, f"empty or punctuation-only prompts: {bad}"
    untrimmed = [(where, p) for where, p in everything if p != p.strip() and "\n" not in p]
    assert not untrimmed, f"single-line prompts with stray whitespace: {untrimmed}"


def test_no_duplicates_within_or_across_prototype_files() -> None:
    seen: dict[str, str] = {}
    dups: list[tuple[str, str, str]] = []
    for where, prompt in _all_prototype_prompts():
        key = _normalize(prompt)
        if key in seen:
            dups.append((seen[key], where, prompt))
        else:
            seen[key] = where
    assert not dups, f"duplicate prompts (ignoring case/punctuation/whitespace): {dups}"


def test_no_duplicates_in_expected_routes() -> None:
    counts = Counter(_normalize(p) for ps in _expected_routes().values() for p in ps)
    dups = [k for k, n in counts.items() if n > 1]
    assert not dups, f"duplicate expected-route prompts: {dups}"


def test_expected_routes_are_held_out() -> None:
    prototypes = {_normalize(p) for _, p in _all_prototype_prompts()}
    leaked = [
        (route, p)
        for route, ps in _expected_routes().items()
        for p in ps
        if _normalize(p) in prototypes
    ]
    assert not leaked, f"expected-route prompts also used as prototypes: {leaked}"


def test_no_near_duplicates() -> None:
    """Every prompt, prototypes and expected routes together, differs by more than a few
    characters from every other one (no copy with a word or a typo changed)."""
    everything = _all_prototype_prompts() + [
        (f"expected_routes.{route}", p) for route, ps in _expected_routes().items() for p in ps
    ]
    keys = [(where, _normalize(p)) for where, p in everything]
    near: list[tuple[str, str, str, str]] = []
    for i, (where_a, a) in enumerate(keys):
        matcher = SequenceMatcher(None, b=a, autojunk=False)
        for where_b, b in keys[i + 1 :]:
            matcher.set_seq1(b)
            if (
                matcher.real_quick_ratio() >= NEAR_DUPLICATE_RATIO
                and matcher.quick_ratio() >= NEAR_DUPLICATE_RATIO
                and matcher.ratio() >= NEAR_DUPLICATE_RATIO
            ):
                near.append((where_a, a, where_b, b))
    assert not near, f"near-duplicate prompts: {near}"


def test_normalize_catches_trivial_variants() -> None:
    assert _normalize("Hello, World!") == _normalize("  hello world ")
    assert _normalize("What's 2+2?") == _normalize("WHAT'S 2 + 2")
    assert _normalize("Thanks!") != _normalize("Thank you!")
