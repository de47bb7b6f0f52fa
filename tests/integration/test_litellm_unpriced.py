"""Deployments whose price LiteLLM does not know, through the stub and a real sidecar (the
shipped default router, as ``routeiq-sidecar serve`` starts it): the stub sends them with no
price at all, so the sidecar's own rule applies. Their names say which is the smaller sibling
(``custom/my-gpt-4o-mini``: quality source ``difficulty+name``), so "hi there!" goes to the
mini and a hard proof to the big one; their cost stays unknown (``estimated_cost`` -1, counted
in ``routeiq_price_unknown_candidates_total``), and ``max_cost_per_mtok`` refuses them, however
generous, with the sidecar's usual answer: ineligible with the reason, or 422
``no_eligible_candidate`` (gRPC ``FAILED_PRECONDITION``) when nothing else is left, which the
stub counts as ``rejected`` and falls back on.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

# tests.litellm_support first: it keeps LiteLLM, which routeiq_litellm imports, off the network
from tests.integration.test_litellm_default_router import default_sidecar
from tests.litellm_support import Sidecar, deployment, msgs

# isort: split
from routeiq_litellm.candidates import build_candidates
from routeiq_litellm.grpc_transport import GrpcTransport
from routeiq_litellm.request import build_route_request
from routeiq_litellm.stats import Outcome
from routeiq_litellm.transport import HttpTransport, TransportError

__all__ = ["default_sidecar"]  # fixture

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore:Item.*ReadOnly:UserWarning")

EASY = "hi there!"
PROOF = ("Prove that the square root of 2 is irrational, then generalize the proof to show that "
         "the square root of any positive integer that is not a perfect square is irrational.")
# The big sibling first: a tie would go to it, so the mini wins only on what its name says.
UNPRICED = [deployment("big", "custom/my-gpt-4o"), deployment("mini", "custom/my-gpt-4o-mini")]
# A self-hosted model that declares its price ($0.10 per million tokens, in and out).
PRICED = {**deployment("llama", "custom/llama"),
          "litellm_params": {"model": "custom/llama", "input_cost_per_token": 1e-7,
                             "output_cost_per_token": 1e-7}}
PRICE_FIELDS = ("input_cost_per_mtok", "output_cost_per_mtok")
UNCHECKABLE = "price unknown, so max_cost_per_mtok 100 cannot be checked"


def unknown_to_litellm(model: str) -> None:
    return None


def route_body(deployments: list[dict[str, Any]], prompt: str, **extra: Any) -> dict[str, Any]:
    candidates, _ = build_candidates(deployments, unknown_to_litellm)
    return {**build_route_request(model_group="auto", candidates=candidates,
                                  messages=msgs(prompt)), **extra}


def post(sc: Sidecar, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{sc.http}/v1/route", json=body, timeout=60)


def price_unknown_count(sc: Sidecar) -> float:
    for line in httpx.get(f"{sc.http}/metrics").text.splitlines():
        if line.startswith("routeiq_price_unknown_candidates_total "):
            return float(line.split()[-1])
    return 0.0


def test_unpriced_siblings_are_routed_by_their_names(default_sidecar: Sidecar) -> None:
    http = HttpTransport(default_sidecar.http)
    grpc = GrpcTransport(default_sidecar.grpc)
    try:
        for prompt, want in ((EASY, "mini"), (PROOF, "big")):
            body = route_body(UNPRICED, prompt)
            for c in body["candidates"]:  # as the stub sends them: no price, labelled
                assert not set(PRICE_FIELDS) & set(c) and c["labels"] == {"price": "unknown"}
            before = price_unknown_count(default_sidecar)
            resp = post(default_sidecar, body)
            assert resp.status_code == 200, resp.text
            answer = resp.json()
            assert answer["strategy"] == "difficulty"
            assert answer["selected_id"] == want, answer
            sources = {s["candidate_id"]: s["quality_source"] for s in answer["ranking"]}
            # the mini's name states its tier (the name rule); gpt-4o's states nothing
            assert sources == {"mini": "difficulty+name", "big": "difficulty+price_unknown"}
            assert all(s["eligible"] for s in answer["ranking"])
            assert {s["estimated_cost"] for s in answer["ranking"]} == {-1.0}  # cost unknown
            assert price_unknown_count(default_sidecar) - before == 2
            # the stub's own transports send the same and get the same choice
            assert http.route(body, timeout_s=60).selected_id == want
            assert grpc.route(body, timeout_s=60).selected_id == want
    finally:
        http.close()
        grpc.close()


def test_max_cost_refuses_unpriced_candidates(default_sidecar: Sidecar) -> None:
    # Next to a priced candidate: the unpriced ones are ineligible, with the reason.
    free_hand = post(default_sidecar, route_body([*UNPRICED, PRICED], PROOF))
    assert free_hand.status_code == 200 and free_hand.json()["selected_id"] == "big"
    budget = post(default_sidecar, route_body([*UNPRICED, PRICED], PROOF, max_cost_per_mtok=100))
    assert budget.status_code == 200, budget.text
    answer = budget.json()
    assert answer["selected_id"] == "llama"
    scores = {s["candidate_id"]: s for s in answer["ranking"]}
    assert scores["llama"]["eligible"] and scores["llama"]["estimated_cost"] > 0
    for cid in ("big", "mini"):
        assert not scores[cid].get("eligible", False)
        assert scores[cid]["ineligible_reason"] == UNCHECKABLE

    # Nothing priced left: no eligible candidate, each one's reason in the error.
    body = route_body(UNPRICED, EASY, max_cost_per_mtok=100)
    refused = post(default_sidecar, body)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "no_eligible_candidate" and error["field"] == "candidates"
    assert f"big: {UNCHECKABLE}" in error["message"]
    assert f"mini: {UNCHECKABLE}" in error["message"]
    # which the stub's transports report as a rejection (the stub then falls back)
    for transport in (HttpTransport(default_sidecar.http), GrpcTransport(default_sidecar.grpc)):
        try:
            with pytest.raises(TransportError) as err:
                transport.route(body, timeout_s=60)
            assert err.value.outcome is Outcome.REJECTED
            assert UNCHECKABLE in str(err.value)
        finally:
            transport.close()
