"""Input checks shared by the transports: every rule, with the field it names."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from routeiq_sidecar.config import Settings, load_settings
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.validate import (
    check_candidates,
    check_request,
    check_text,
    resolve_candidates,
    resolve_profile,
)
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.types import CandidateSpec, ChatMessage, RouteInput

A = CandidateSpec("a", "openai/gpt-4o-mini", 0.15, 0.6)
B = CandidateSpec("b", "anthropic/claude-opus-4", 15, 75, capabilities=("reasoning",))


@pytest.fixture
def s() -> Settings:
    return load_settings(
        max_messages=3, max_candidates=2, max_text_chars=100, default_profile="eco"
    )


def req(**kw: object) -> RouteInput:
    base: dict[str, object] = {"request_id": "r", "prompt": "hello", "candidates": (A, B)}
    base.update(kw)
    return RouteInput(**base)  # type: ignore[arg-type]


def refused(fn: object, *args: object) -> RouteIQError:
    with pytest.raises(RouteIQError) as err:
        fn(*args)  # type: ignore[operator]
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    assert str(err.value).startswith(f"{err.value.field}: ")
    return err.value


def test_valid_request_passes(s: Settings) -> None:
    check_request(
        req(
            messages=(ChatMessage("system", "x"), ChatMessage("user", "hi")),
            required_capabilities=("tools",),
            max_cost_per_mtok=0.0,
            quality_cost_tradeoff=0.0,
            deadline_ms=50,
        ),
        s,
    )
    check_candidates((A, B), s)


# --- text
def test_too_many_messages(s: Settings) -> None:
    err = refused(check_text, req(messages=(ChatMessage("user", "x"),) * 4), s)
    assert err.field == "messages"
    assert "4 messages exceed max_messages 3" in str(err)


def test_unknown_role(s: Settings) -> None:
    err = refused(
        check_text, req(messages=(ChatMessage("user", "x"), ChatMessage("robot", "y"))), s
    )
    assert err.field == "messages[1].role"
    assert "unknown role 'robot'" in str(err)


@pytest.mark.parametrize("role", ["system", "developer", "user", "assistant", "tool", "function"])
def test_known_roles(s: Settings, role: str) -> None:
    check_text(req(messages=(ChatMessage(role, "x"),)), s)


def test_too_much_text(s: Settings) -> None:
    err = refused(check_text, req(prompt="p" * 50, messages=(ChatMessage("user", "m" * 51),)), s)
    assert err.field == "messages"
    assert "101 characters exceed max_text_chars 100" in str(err)
    check_text(req(prompt="p" * 50, messages=(ChatMessage("user", "m" * 50),)), s)


def test_no_text(s: Settings) -> None:
    err = refused(check_text, req(prompt="  ", messages=(ChatMessage("user", " \n"),)), s)
    assert err.field == "messages"
    assert "no text to route" in str(err)
    refused(check_text, req(prompt=""), s)


# --- request-level fields
def test_unknown_required_capability(s: Settings) -> None:
    err = refused(check_request, req(required_capabilities=("tools", "flight")), s)
    assert err.field == "required_capabilities"
    assert "'flight'" in str(err)


@pytest.mark.parametrize("field", ["max_cost_per_mtok", "quality_cost_tradeoff"])
@pytest.mark.parametrize("value", [-0.01, math.nan, math.inf])
def test_nonnegative_finite_numbers(s: Settings, field: str, value: float) -> None:
    err = refused(check_request, req(**{field: value}), s)
    assert err.field == field
    assert "must be a finite number >= 0" in str(err)


def test_negative_deadline(s: Settings) -> None:
    err = refused(check_request, req(deadline_ms=-1), s)
    assert err.field == "deadline_ms"


# --- candidates
def test_too_many_candidates(s: Settings) -> None:
    err = refused(check_candidates, (A, B, replace(A, id="c")), s)
    assert err.field == "candidates"
    assert "3 candidates exceed max_candidates 2" in str(err)


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (replace(B, id=" "), "candidates[1].id", "must not be empty"),
        (replace(B, id="a"), "candidates[1].id", "duplicate candidate id 'a'"),
        (replace(B, input_cost_per_mtok=-1.0), "candidates[1].input_cost_per_mtok", ">= 0"),
        (replace(B, output_cost_per_mtok=math.nan), "candidates[1].output_cost_per_mtok", "finite"),
        (replace(B, input_cost_per_mtok=math.inf), "candidates[1].input_cost_per_mtok", "finite"),
        (replace(B, max_input_tokens=-5), "candidates[1].max_input_tokens", ">= 0"),
        (replace(B, capabilities=("tools", "x-ray")), "candidates[1].capabilities", "'x-ray'"),
        (replace(B, quality_prior=1.5), "candidates[1].quality_prior", "within 0..1, got 1.5"),
        (replace(B, quality_prior=-0.1), "candidates[1].quality_prior", "within 0..1"),
    ],
)
def test_candidate_rules(s: Settings, bad: CandidateSpec, field: str, reason: str) -> None:
    err = refused(check_candidates, (A, bad), s)
    assert err.field == field
    assert reason in str(err)


def test_quality_prior_bounds_accepted(s: Settings) -> None:
    check_candidates((replace(A, quality_prior=0.0), replace(B, quality_prior=1.0)), s)


# --- resolution
def test_resolve_candidates_from_request_fills_model(s: Settings) -> None:
    got = resolve_candidates(req(candidates=(A, CandidateSpec("solo", " "))), Catalogue.empty(), s)
    assert got[0] is A
    assert got[1].id == "solo" and got[1].model == "solo"


def test_resolve_candidates_checks_request_candidates(s: Settings) -> None:
    err = refused(
        resolve_candidates, req(candidates=(A, replace(A, model="m"))), Catalogue.empty(), s
    )
    assert err.field == "candidates[1].id"


def test_resolve_candidates_from_catalogue(s: Settings) -> None:
    cat = Catalogue({"auto": (A, B), "local": (replace(A, id="l"),)})
    assert resolve_candidates(req(candidates=(), model_group="auto"), cat, s) == (A, B)
    err = refused(resolve_candidates, req(candidates=(), model_group="gpt"), cat, s)
    assert err.field == "model_group"
    assert "unknown model group 'gpt'" in str(err)
    assert "known groups: auto, local" in str(err)


def test_unknown_group_with_empty_catalogue(s: Settings) -> None:
    err = refused(resolve_candidates, req(candidates=()), Catalogue.empty(), s)
    assert "none configured" in str(err)


def test_resolve_profile(s: Settings) -> None:
    assert resolve_profile(req(profile=""), s) == "eco"  # the settings' default
    assert resolve_profile(req(profile="premium"), s) == "premium"
    err = refused(resolve_profile, req(profile="turbo"), s)
    assert err.field == "profile"
    assert "unknown profile 'turbo'" in str(err)
