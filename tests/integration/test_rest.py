"""REST transport against a real in-process server on port 0 (tiny random BERT bundle)."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from routeiq_sidecar.app import Sidecar
from tests.conftest import CHEAP, STRONG


def url(sc: Sidecar, path: str) -> str:
    return f"http://127.0.0.1:{sc.http_port}{path}"


async def test_route_answers_a_full_decision(sidecar: Sidecar) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url(sidecar, "/v1/route"),
            json={"request_id": "r-1", "prompt": "hello there", "candidates": [CHEAP, STRONG]},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["selected_id"] in {"cheap", "strong"}
    assert [s["candidate_id"] for s in body["ranking"]].count(body["selected_id"]) == 1
    assert body["ranking"][0]["candidate_id"] == body["selected_id"]
    assert body["request_id"] == "r-1"
    assert body["strategy"] == "centroid" and body["profile"] == "auto"
    assert body["bundle_version"] == sidecar.engine.loaded.bundle.version
    # defaults are printed too
    assert body["degraded"] is False and body["sticky"] is False and body["experiment"] == ""
    t = body["timings"]
    assert t["total_us"] >= t["embed_us"] > 0 and t["batch_size"] >= 1
    assert body["reason"].endswith(".") and body["selected_id"] in body["reason"]
    assert r.headers["x-request-id"]


async def test_route_alias_and_request_id_echo(sidecar: Sidecar) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url(sidecar, "/route"),
            headers={"x-request-id": "abc-123"},
            json={"messages": [{"role": "user", "content": "hi"}], "candidates": [CHEAP]},
        )
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["request_id"] == "abc-123"


async def test_classify_and_info(sidecar: Sidecar) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(url(sidecar, "/v1/classify"), json={"prompt": "Translate to French: cat"})
        assert r.status_code == 200
        sig = r.json()["signals"]
        assert sig["complexity"] in {"simple", "medium", "complex"}
        assert 0 <= sig["confidence"] <= 1 and sig["category"]
        info = (await c.get(url(sidecar, "/v1/info"))).json()
    assert info["bundle_version"] == sidecar.engine.loaded.bundle.version
    assert {"centroid", "random", "cheapest", "strongest", "length"} <= set(info["strategies"])
    assert info["settings"]["http_host"] == "127.0.0.1"
    assert {f["path"] for f in info["bundle_files"]} >= {"encoder.onnx", "centroids.npz"}


async def test_feedback_flow(sidecar: Sidecar) -> None:
    async with httpx.AsyncClient() as c:
        d = (
            await c.post(
                url(sidecar, "/v1/route"), json={"prompt": "hi", "candidates": [CHEAP, STRONG]}
            )
        ).json()
        fb = {"decision_id": d["decision_id"], "score": 0.9, "latency_ms": 120}
        r1 = await c.post(url(sidecar, "/v1/feedback"), json=fb)
        r2 = await c.post(url(sidecar, "/v1/feedback"), json=fb)
        r3 = await c.post(
            url(sidecar, "/v1/feedback"), json={"decision_id": "nope", "success": True}
        )
        r4 = await c.post(url(sidecar, "/v1/feedback"), json={"decision_id": d["decision_id"]})
    assert r1.status_code == 200 and r1.json() == {
        "accepted": True,
        "duplicate": False,
        "decision_id": d["decision_id"],
    }
    assert r2.status_code == 200 and r2.json()["duplicate"] is True
    assert r3.status_code == 404 and r3.json()["error"]["field"] == "decision_id"
    assert r4.status_code == 400 and "score" in r4.json()["error"]["message"]


async def test_health_ready_metrics_openapi(sidecar: Sidecar) -> None:
    async with httpx.AsyncClient() as c:
        await c.post(url(sidecar, "/v1/route"), json={"prompt": "hi", "candidates": [CHEAP]})
        assert (await c.get(url(sidecar, "/healthz"))).status_code == 200
        assert (await c.get(url(sidecar, "/readyz"))).status_code == 200
        m = await c.get(url(sidecar, "/metrics"))
        doc = (await c.get(url(sidecar, "/openapi.json"))).json()
        missing = await c.get(url(sidecar, "/nope"))
    fams = {f.name: f for f in text_string_to_metric_families(m.text)}
    decided = [s for s in fams["routeiq_decisions"].samples if s.name == "routeiq_decisions_total"]
    assert sum(s.value for s in decided) >= 1
    assert "routeiq_stage_seconds" in fams and "routeiq_batch_size" in fams
    assert "routeiq_predict_batch_size" in fams
    assert doc["openapi"].startswith("3.") and "/v1/route" in doc["paths"]
    props = doc["components"]["schemas"]["RouteRequest"]["properties"]
    assert {"request_id", "model_group", "messages", "candidates", "deadline_ms"} <= set(props)
    assert missing.status_code == 404 and missing.headers["x-request-id"]


async def test_readyz_turns_503_when_draining(sidecar: Sidecar) -> None:
    assert sidecar.pipeline is not None
    sidecar.pipeline.draining = True
    async with httpx.AsyncClient() as c:
        assert (await c.get(url(sidecar, "/readyz"))).status_code == 503
        r = await c.post(url(sidecar, "/v1/route"), json={"prompt": "hi", "candidates": [CHEAP]})
    assert r.status_code == 503 and r.headers["x-request-id"]
    sidecar.pipeline.draining = False


BAD = [
    ("malformed json", b'{"prompt": ', "body"),
    ("not an object", b"[1,2]", "body"),
    ("invalid utf-8", b'{"prompt": "\xff\xfe"}', "body"),
    ("empty body", b"", "body"),
    ("missing text", {"candidates": [CHEAP]}, "messages"),
    (
        "blank text",
        {"messages": [{"role": "user", "content": "   "}], "candidates": [CHEAP]},
        "messages",
    ),
    (
        "bad role",
        {"messages": [{"role": "robot", "content": "x"}], "candidates": [CHEAP]},
        "messages[0].role",
    ),
    ("empty candidate id", {"prompt": "x", "candidates": [{"id": ""}]}, "candidates[0].id"),
    ("duplicate candidates", {"prompt": "x", "candidates": [CHEAP, CHEAP]}, "candidates[1].id"),
    ("no candidates, no group", {"prompt": "x"}, "model_group"),
    ("unknown group", {"prompt": "x", "model_group": "gpt-9"}, "model_group"),
    ("unknown profile", {"prompt": "x", "candidates": [CHEAP], "profile": "turbo"}, "profile"),
    ("unknown strategy", {"prompt": "x", "candidates": [CHEAP], "strategy": "magic"}, "strategy"),
    ("wrong type", {"prompt": 12, "candidates": [CHEAP]}, "prompt"),
    ("wrong list type", {"prompt": "x", "candidates": "cheap"}, "candidates"),
    ("unknown field", {"prompt": "x", "candidates": [CHEAP], "temperature": 1}, "temperature"),
    (
        "negative cost",
        {"prompt": "x", "candidates": [{**CHEAP, "input_cost_per_mtok": -1}]},
        "candidates[0].input_cost_per_mtok",
    ),
    (
        "nan cost",
        b'{"prompt": "x", "candidates": [{"id": "a", "input_cost_per_mtok": "NaN"}]}',
        "candidates[0].input_cost_per_mtok",
    ),
    (
        "bad capability",
        {"prompt": "x", "candidates": [{**CHEAP, "capabilities": ["telepathy"]}]},
        "candidates[0].capabilities",
    ),
    (
        "bad required capability",
        {"prompt": "x", "candidates": [CHEAP], "required_capabilities": ["x"]},
        "required_capabilities",
    ),
    (
        "prior out of range",
        {"prompt": "x", "candidates": [{**CHEAP, "quality_prior": 2}]},
        "candidates[0].quality_prior",
    ),
    ("negative deadline", {"prompt": "x", "candidates": [CHEAP], "deadline_ms": -5}, "deadline_ms"),
]


@pytest.mark.parametrize(("name", "body", "field"), BAD, ids=[b[0] for b in BAD])
async def test_bad_input_is_a_clear_400(
    sidecar: Sidecar, name: str, body: object, field: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url(sidecar, "/v1/route"), content=content, headers={"content-type": "application/json"}
        )
        ok = await c.post(url(sidecar, "/v1/route"), json={"prompt": "x", "candidates": [CHEAP]})
    assert r.status_code == 400, (name, r.text)
    err = r.json()["error"]
    assert err["code"] == "invalid_argument" and err["field"] == field, err
    assert err["message"].startswith(field), err
    assert r.headers["x-request-id"]
    assert ok.status_code == 200  # still serving


async def test_no_eligible_candidate_is_422(sidecar: Sidecar) -> None:
    async with httpx.AsyncClient() as c:
        r = await c.post(
            url(sidecar, "/v1/route"),
            json={"prompt": "x", "candidates": [CHEAP], "required_capabilities": ["vision"]},
        )
    assert r.status_code == 422
    assert "lacks capability vision" in r.json()["error"]["message"]


async def test_oversized_body_is_413(sidecar: Sidecar) -> None:
    big = b'{"prompt": "' + b"a" * (sidecar.settings.max_body_bytes + 10) + b'"}'
    async with httpx.AsyncClient(headers={"content-type": "application/json"}) as c:
        r = await c.post(url(sidecar, "/v1/route"), content=big)

        async def chunks():  # no content-length: the limit applies while reading
            for _ in range(sidecar.settings.max_body_bytes // 65536 + 2):
                yield b"a" * 65536

        r2 = await c.post(url(sidecar, "/v1/route"), content=chunks())
        ok = await c.get(url(sidecar, "/healthz"))
    assert r.status_code == 413 and r.headers["x-request-id"]
    assert r2.status_code == 413
    assert ok.status_code == 200


async def test_too_many_messages_and_text(tmp_path, tiny_bundle) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    sc = Sidecar(
        make_settings(tmp_path, max_messages=3, max_text_chars=2000, max_candidates=2),
        bundle=tiny_bundle,
    )
    await sc.start()
    try:
        async with httpx.AsyncClient() as c:
            msgs = [{"role": "user", "content": "hi"}] * 4
            r1 = await c.post(url(sc, "/v1/route"), json={"messages": msgs, "candidates": [CHEAP]})
            r2 = await c.post(
                url(sc, "/v1/route"), json={"prompt": "a" * 2001, "candidates": [CHEAP]}
            )
            r3 = await c.post(
                url(sc, "/v1/route"),
                json={"prompt": "a", "candidates": [CHEAP, STRONG, {"id": "third"}]},
            )
    finally:
        await sc.stop()
    assert r1.status_code == 400 and "max_messages" in r1.json()["error"]["message"]
    assert r2.status_code == 400 and "max_text_chars" in r2.json()["error"]["message"]
    assert r3.status_code == 400 and "max_candidates" in r3.json()["error"]["message"]
