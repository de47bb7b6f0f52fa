"""Input checks shared by every transport; each error names the offending field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.errors import invalid
from routeiq_sidecar.limits import (
    MAX_COST_USD,
    MAX_ERROR_CHARS,
    MAX_ID_CHARS,
    MAX_LATENCY_MS,
    MAX_MAP_ENTRIES,
    MAX_MAP_KEY_CHARS,
    MAX_MAP_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_PRICE_PER_MTOK,
    MAX_REQUEST_ID_CHARS,
    MAX_TRADEOFF,
    shown,
)
from routeiq_sidecar.types import CAPABILITIES, PROFILES, CandidateSpec, RouteInput

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def _finite_nonneg(value: float, field: str, limit: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise invalid(field, f"must be a finite number >= 0, got {value!r}")
    if value > limit:
        raise invalid(field, f"{value:g} exceeds the largest accepted value {limit:g}")


def check_string(value: str, field: str, limit: int) -> None:
    """A caller's string within ``limit`` characters (clear 400, never kept at any size)."""
    if len(value) > limit:
        raise invalid(field, f"{len(value)} characters exceed the limit of {limit}")


def check_map(values: Mapping[str, str], field: str) -> None:
    if len(values) > MAX_MAP_ENTRIES:
        raise invalid(field, f"{len(values)} entries exceed the limit of {MAX_MAP_ENTRIES}")
    for k, v in values.items():
        check_string(k, f"{field} key {shown(k)}", MAX_MAP_KEY_CHARS)
        check_string(v, f"{field}[{shown(k)}]", MAX_MAP_VALUE_CHARS)


def check_strings(inp: RouteInput) -> None:
    """Every caller-chosen identifier and map of a route request within its bound."""
    check_string(inp.request_id, "request_id", MAX_REQUEST_ID_CHARS)
    for value, field in (
        (inp.session_id, "session_id"),
        (inp.user_id, "user_id"),
        (inp.model_group, "model_group"),
        (inp.strategy, "strategy"),
        (inp.profile, "profile"),
    ):
        check_string(value, field, MAX_ID_CHARS)
    check_map(inp.metadata, "metadata")
    for i, m in enumerate(inp.messages):
        check_string(m.name, f"messages[{i}].name", MAX_NAME_CHARS)


def check_text(inp: RouteInput, s: Settings) -> None:
    if len(inp.messages) > s.max_messages:
        raise invalid(
            "messages", f"{len(inp.messages)} messages exceed max_messages {s.max_messages}"
        )
    total = len(inp.prompt)
    for i, m in enumerate(inp.messages):
        if m.role not in ROLES:
            raise invalid(
                f"messages[{i}].role", f"unknown role {shown(m.role)} (one of {sorted(ROLES)})"
            )
        total += len(m.content)
    if total > s.max_text_chars:
        raise invalid("messages", f"{total} characters exceed max_text_chars {s.max_text_chars}")
    if not inp.prompt.strip() and not any(m.content.strip() for m in inp.messages):
        raise invalid("messages", "no text to route: send messages with content, or prompt")


def check_candidates(cands: tuple[CandidateSpec, ...], s: Settings) -> None:
    if len(cands) > s.max_candidates:
        raise invalid(
            "candidates", f"{len(cands)} candidates exceed max_candidates {s.max_candidates}"
        )
    seen: set[str] = set()
    for i, c in enumerate(cands):
        f = f"candidates[{i}]"
        check_string(c.id, f"{f}.id", MAX_ID_CHARS)
        check_string(c.model, f"{f}.model", MAX_ID_CHARS)
        check_map(c.labels, f"{f}.labels")
        if not c.id.strip():
            raise invalid(f"{f}.id", "must not be empty")
        if not c.id.isprintable():
            raise invalid(f"{f}.id", "must not contain control characters (ids travel in headers)")
        if c.id in seen:
            raise invalid(f"{f}.id", f"duplicate candidate id {shown(c.id)}")
        seen.add(c.id)
        _finite_nonneg(c.input_cost_per_mtok, f"{f}.input_cost_per_mtok", MAX_PRICE_PER_MTOK)
        _finite_nonneg(c.output_cost_per_mtok, f"{f}.output_cost_per_mtok", MAX_PRICE_PER_MTOK)
        if c.max_input_tokens < 0:
            raise invalid(f"{f}.max_input_tokens", "must be >= 0 (0 = unknown)")
        bad = [cap for cap in c.capabilities if cap not in CAPABILITIES]
        if bad:
            raise invalid(
                f"{f}.capabilities", f"unknown {shown(bad)} (one of {list(CAPABILITIES)})"
            )
        if c.quality_prior is not None and not (0.0 <= c.quality_prior <= 1.0):
            raise invalid(f"{f}.quality_prior", f"must be within 0..1, got {c.quality_prior!r}")


def resolve_candidates(
    inp: RouteInput, catalogue: Catalogue, s: Settings
) -> tuple[CandidateSpec, ...]:
    if inp.candidates:
        cands = tuple(
            c if c.model.strip() else CandidateSpec(**{**c.__dict__, "model": c.id})
            for c in inp.candidates
        )
        check_candidates(cands, s)
        return cands
    found = catalogue.candidates(inp.model_group)
    if found is None:
        known = ", ".join(sorted(catalogue.groups)) or "none configured"
        raise invalid(
            "model_group",
            f"unknown model group {shown(inp.model_group)} and no candidates sent "
            f"(known groups: {known})",
        )
    return found


def resolve_profile(inp: RouteInput, s: Settings) -> str:
    profile = inp.profile or s.default_profile
    if profile not in PROFILES:
        raise invalid("profile", f"unknown profile {shown(profile)} (one of {', '.join(PROFILES)})")
    return profile


def check_request(inp: RouteInput, s: Settings) -> None:
    check_strings(inp)
    check_text(inp, s)
    bad = [c for c in inp.required_capabilities if c not in CAPABILITIES]
    if bad:
        raise invalid(
            "required_capabilities", f"unknown {shown(bad)} (one of {list(CAPABILITIES)})"
        )
    if inp.max_cost_per_mtok is not None:
        _finite_nonneg(inp.max_cost_per_mtok, "max_cost_per_mtok", math.inf)
    if inp.quality_cost_tradeoff is not None:
        _finite_nonneg(inp.quality_cost_tradeoff, "quality_cost_tradeoff", MAX_TRADEOFF)
    if inp.deadline_ms < 0:
        raise invalid("deadline_ms", "must be >= 0 (0 = no deadline)")


def check_feedback(decision_id: str, outcome: dict[str, Any]) -> None:
    check_string(decision_id, "decision_id", MAX_REQUEST_ID_CHARS)
    if not decision_id.strip():
        raise invalid("decision_id", "must not be empty")
    check_string(outcome.get("error") or "", "error", MAX_ERROR_CHARS)
    if outcome.get("score") is None and outcome.get("success") is None:
        raise invalid("score", "send at least one of score (0..1) or success (bool)")
    score = outcome.get("score")
    if score is not None and not (0.0 <= float(score) <= 1.0):
        raise invalid("score", f"must be within 0..1, got {score!r}")
    for f, limit in (("latency_ms", MAX_LATENCY_MS), ("cost_usd", MAX_COST_USD)):
        v = outcome.get(f)
        if v is not None:
            _finite_nonneg(v, f, limit)
