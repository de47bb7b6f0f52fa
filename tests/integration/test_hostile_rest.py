"""Hostile clients over REST (issue 15): real server processes on port 0, raw sockets for the slow
clients, every case bounded in count and time. Each refusal is a clear 4xx naming the problem;
nothing a caller sends is kept, echoed or counted at a size the caller chose."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.limits import MAX_MODEL_LABELS
from tests.conftest import (
    CHEAP,
    STRONG,
    ServerProcess,
    serve_bundle,
    start_server_process,
    stop_server_process,
)

SLOW_CLIENTS = 300
MAX_IN_FLIGHT = 16
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def server(
    tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    sp = serve_bundle(
        tiny_bundle_path,
        tmp_path_factory.mktemp("hostile"),
        ROUTEIQ_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
        ROUTEIQ_BODY_TIMEOUT_S="4",
        ROUTEIQ_HEADER_TIMEOUT_S="2",
        ROUTEIQ_BATCH_WAIT_US="0",
        ROUTEIQ_RELOAD_MIN_INTERVAL_S="60",
    )
    yield sp
    stop_server_process(sp)


def route_body(**extra: object) -> dict[str, object]:
    return {"prompt": "what is 2+2?", "candidates": [CHEAP, STRONG], **extra}


def post(sp: ServerProcess, path: str, body: object, **kw: object) -> httpx.Response:
    headers = {**JSON, **kw.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.post(f"{sp.http}{path}", json=body, headers=headers, timeout=30, **kw)  # type: ignore[arg-type]


def open_slow(sp: ServerProcess, head: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", sp.http_port), timeout=30)
    s.sendall(head)
    return s


# --- 1. slow bodies hold connections, never in-flight slots; 12. slow headers are cut


def test_slow_bodies_do_not_starve_good_requests(server: ServerProcess) -> None:
    head = (
        b"POST /v1/route HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 4096\r\n\r\n{"
    )
    slow = [open_slow(server, head) for _ in range(SLOW_CLIENTS)]  # far over max_in_flight
    try:
        time.sleep(0.5)  # the server has read every slow request's headers
        good = [post(server, "/v1/route", route_body()).status_code for _ in range(20)]
        channel = grpc.insecure_channel(server.grpc)
        stub = pb_grpc.RouterServiceStub(channel)
        req = pb.RouteRequest(prompt="2+2?", candidates=[pb.Candidate(id="a", model="m")])
        grpc_ok = sum(1 for _ in range(20) if stub.Route(req, timeout=30).selected_id == "a")
        channel.close()
        # past body_timeout_s every slow sender gets a 408 naming the setting
        answers = [read_answer(s) for s in slow[:20]]
    finally:
        for s in slow:
            s.close()
    assert good == [200] * 20
    assert grpc_ok == 20
    timed_out = [a.startswith(b"HTTP/1.1 408") and b"body_timeout_s" in a for a in answers]
    assert all(timed_out), answers[0]


def read_answer(s: socket.socket) -> bytes:
    """Everything the server sends until it closes or 30 s pass (the socket's timeout)."""
    data = b""
    while chunk := s.recv(4096):
        data += chunk
        if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
            break
    return data


def assert_slow_headers_cut(server: ServerProcess, count: int) -> None:
    """``count`` connections trickling a request's headers are all closed by the server
    (``header_timeout_s``, a few seconds here), and the server still answers."""
    slow = [open_slow(server, b"POST /v1/route HTTP/1.1\r\nHo") for _ in range(count)]
    deadline = time.monotonic() + 30
    try:
        closed = sum(1 for s in slow if closed_by_server(s, deadline))
    finally:
        for s in slow:
            s.close()
    assert closed == count
    assert httpx.get(f"{server.http}/healthz").status_code == 200


def test_slow_headers_are_cut(server: ServerProcess) -> None:
    assert_slow_headers_cut(server, 50)


def closed_by_server(s: socket.socket, deadline: float) -> bool:
    """Trickle a header byte every 0.5 s (each one would cancel uvicorn's keep-alive timer)
    until the server closes the connection or ``deadline`` passes."""
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            s.sendall(b"s")
            if s.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed by the server
            return True
    return False


# --- 2. and 6. caller-chosen strings: capped with a 400 naming them, never echoed in full

BIG = "x" * 70_000
CAPPED = [
    ("session_id", route_body(session_id=BIG)),
    ("user_id", route_body(user_id=BIG)),
    ("request_id", route_body(request_id=BIG)),
    ("model_group", {"prompt": "hi", "model_group": BIG}),
    ("profile", route_body(profile=BIG)),
    ("strategy", route_body(strategy=BIG)),
    ("metadata", route_body(metadata={f"k{i}": "v" for i in range(1000)})),
    ("metadata[", route_body(metadata={"k": BIG})),
    ("metadata key", route_body(metadata={BIG: "v"})),
    ("candidates[0].id", {"prompt": "hi", "candidates": [{"id": BIG, "model": "m"}]}),
    ("candidates[0].model", {"prompt": "hi", "candidates": [{"id": "a", "model": BIG}]}),
    ("candidates[0].labels", {"prompt": "hi", "candidates": [{"id": "a", "labels": {"k": BIG}}]}),
    ("messages[0].name", {"messages": [{"role": "user", "content": "hi", "name": BIG}]}),
]


@pytest.mark.parametrize(("field", "body"), CAPPED, ids=[c[0] for c in CAPPED])
def test_caller_strings_are_capped(server: ServerProcess, field: str, body: object) -> None:
    r = post(server, "/v1/route", body)
    assert r.status_code == 400, r.text[:300]
    err = r.json()["error"]
    assert err["field"].startswith(field) and "limit" in err["message"], err
    assert len(r.content) < 2_000  # the 70 KB value is not echoed
    assert len(r.headers["x-request-id"]) <= 128


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("decision_id", {"decision_id": BIG, "score": 1}),
        ("error", {"decision_id": "d", "score": 1, "error": BIG}),
        ("latency_ms", {"decision_id": "d", "score": 1, "latency_ms": 1e308}),
        ("cost_usd", {"decision_id": "d", "score": 1, "cost_usd": 1e308}),
    ],
)
def test_feedback_fields_are_capped(server: ServerProcess, field: str, body: object) -> None:
    r = post(server, "/v1/feedback", body)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"]["field"] == field
    assert len(r.content) < 2_000


def test_classify_request_id_is_capped(server: ServerProcess) -> None:
    r = post(server, "/v1/classify", {"prompt": "hi", "request_id": BIG})
    assert r.status_code == 400 and r.json()["error"]["field"] == "request_id"


def test_refusals_are_not_logged_at_caller_size(server: ServerProcess) -> None:
    post(server, "/v1/route", route_body(profile=BIG, request_id="r" * 100))
    assert post(server, "/v1/route", route_body(request_id="ok-id")).status_code == 200
    assert max(len(line) for line in server.lines) < 4_000


def rss_kb(sp: ServerProcess) -> int:
    status = Path(f"/proc/{sp.proc.pid}/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert m
    return int(m.group(1))


def test_memory_is_bounded_with_maximal_fields(server: ServerProcess) -> None:
    """Maximal accepted fields, each request a new session: the stores keep them, so memory
    grows by what the caps allow per entry (about 2 KB), not by what a caller sends."""
    with httpx.Client(timeout=30, headers=JSON) as c:
        def send(i: int) -> int:
            body = route_body(
                session_id=f"{i:08d}" + "s" * 248,
                user_id="u" * 256,
                request_id=f"{i:08d}" + "r" * 120,
                metadata={f"k{j:03d}" + "k" * 124: "v" * 1024 for j in range(64)},
            )
            return c.post(f"{server.http}/v1/route", json=body).status_code

        assert {send(i) for i in range(200)} == {200}  # warm: allocator pools, caches
        before = rss_kb(server)
        assert {send(i) for i in range(200, 1200)} == {200}
        growth_per_request_kb = (rss_kb(server) - before) / 1000
    # the uncapped server grew 131.7 KB per 64 KB session_id; the caps keep an entry near 2 KB
    assert growth_per_request_kb < 16, growth_per_request_kb


# --- 3. metrics cardinality


def test_model_labels_are_bounded(server: ServerProcess) -> None:
    with httpx.Client(timeout=30, headers=JSON) as c:
        for i in range(MAX_MODEL_LABELS + 60):
            model = f"m{i:05d}-" + "z" * 80 if i % 10 else "w" * 256  # some longer than a label
            body = {"prompt": "hi", "candidates": [{"id": "only", "model": model}]}
            assert c.post(f"{server.http}/v1/route", json=body).status_code == 200
        text = c.get(f"{server.http}/metrics").text
    values = set(re.findall(r'routeiq_decisions_total\{[^}]*selected_model="([^"]*)"', text))
    assert len(values) <= MAX_MODEL_LABELS + 1 + 2  # + "other" + the tests' CHEAP/STRONG models
    assert "other" in values
    assert not any(len(v) > 96 for v in values)


# --- 4. overflow


@pytest.mark.parametrize(
    ("field", "body"),
    [
        (
            "candidates[0].input_cost_per_mtok",
            {"prompt": "hi", "candidates": [{"id": "a", "input_cost_per_mtok": 1e308}]},
        ),
        (
            "candidates[0].output_cost_per_mtok",
            {"prompt": "hi", "candidates": [{"id": "a", "output_cost_per_mtok": 1.7e308}]},
        ),
        ("quality_cost_tradeoff", route_body(quality_cost_tradeoff=1e308)),
    ],
)
def test_overflowing_numbers_are_400(server: ServerProcess, field: str, body: object) -> None:
    r = post(server, "/v1/route", body)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["error"]["field"] == field


# --- 9. browser-reachable state changes; 12. 405 Allow


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
@pytest.mark.parametrize("path", ["/v1/route", "/v1/feedback", "/v1/classify", "/v1/admin/reload"])
def test_only_json_is_accepted(server: ServerProcess, path: str, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = httpx.post(
        f"{server.http}{path}", content=json.dumps(route_body()), headers=headers, timeout=30
    )
    assert r.status_code == 415, r.text[:300]
    assert r.json()["error"]["field"] == "content-type"


def test_foreign_host_is_refused_on_a_loopback_bind(server: ServerProcess) -> None:
    evil = post(server, "/v1/route", route_body(), headers={"host": "evil.example:80"})
    assert evil.status_code == 403 and evil.json()["error"]["field"] == "host"
    for host in ("localhost", f"localhost:{server.http_port}", "127.0.0.1", "[::1]:1"):
        assert post(server, "/v1/route", route_body(), headers={"host": host}).status_code == 200
    assert httpx.get(f"{server.http}/healthz", headers={"host": "evil"}).status_code == 200


def test_reloads_are_rate_limited(server: ServerProcess) -> None:
    first = post(server, "/v1/admin/reload", {})
    second = post(server, "/v1/admin/reload", {})
    assert first.status_code in (200, 429)  # 429 when another test reloaded first
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1
    assert "reload_min_interval_s" in second.json()["error"]["message"]


def test_405_names_the_allowed_methods(server: ServerProcess) -> None:
    r = httpx.get(f"{server.http}/v1/route", timeout=30)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    allow = httpx.put(f"{server.http}/v1/info", timeout=30).headers["allow"]
    assert sorted(allow.split(", ")) == ["GET", "HEAD"]


def test_client_leaving_mid_body_is_not_an_error(server: ServerProcess) -> None:
    head = (
        b"POST /v1/route HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 4096\r\n\r\n{\"prompt\""
    )
    for _ in range(5):
        open_slow(server, head).close()
    time.sleep(0.5)
    assert post(server, "/v1/route", route_body()).status_code == 200
    assert not [line for line in server.lines if '"ERROR"' in line or "Traceback" in line]


def test_openapi_marks_what_the_server_requires(server: ServerProcess) -> None:
    schemas = httpx.get(f"{server.http}/openapi.json", timeout=30).json()["components"]["schemas"]
    assert schemas["FeedbackRequest"]["required"] == ["decision_id"]
    assert schemas["FeedbackRequest"]["properties"]["decision_id"]["minLength"] == 1
    assert {"required": ["prompt"], "properties": {"prompt": {"minLength": 1}}} in schemas[
        "RouteRequest"
    ]["anyOf"]
    assert schemas["RouteRequest"]["properties"]["session_id"]["maxLength"] == 256


# --- 7. auth edges


@pytest.fixture(scope="module")
def locked(
    tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    sp = serve_bundle(
        tiny_bundle_path, tmp_path_factory.mktemp("locked"), ROUTEIQ_AUTH_TOKEN="s3cret-token"
    )
    yield sp
    stop_server_process(sp)


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("Bearer s3cret-token", 200),
        ("bearer s3cret-token", 200),
        ("BEARER  s3cret-token", 200),
        ("Bearer s3cret-tokén", 401),
        ("Bearer ключ", 401),
        ("Basic s3cret-token", 401),
        ("s3cret-token", 401),
    ],
)
def test_bearer_edges(locked: ServerProcess, authorization: str, status: int) -> None:
    r = httpx.post(
        f"{locked.http}/v1/route",
        content=json.dumps(route_body()).encode(),
        headers={**JSON, "authorization": authorization.encode("utf-8")},  # type: ignore[dict-item]
        timeout=30,
    )
    assert r.status_code == status, r.text[:300]


@pytest.mark.parametrize("token", ["", "   ", "tökén", " padded "])
def test_unusable_tokens_are_refused_at_start(
    tiny_bundle_path: Path, tmp_path: Path, token: str
) -> None:
    with pytest.raises(RuntimeError, match="ROUTEIQ_AUTH_TOKEN='\\*\\*\\*'") as err:
        start_server_process(
            "--bundle",
            str(tiny_bundle_path),
            "--home",
            str(tmp_path),
            "--http-host",
            "0.0.0.0",
            env={"ROUTEIQ_AUTH_TOKEN": token},
            timeout=60,
        )
    assert token.strip() not in str(err.value) or not token.strip()  # the secret is not printed


# --- 11. bundle paths


@pytest.mark.parametrize("key", ["encoder_int8", "tokenizer"])
def test_manifest_paths_stay_in_the_bundle(
    tiny_bundle_path: Path, tmp_path: Path, key: str
) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle_path, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    outside = tmp_path / "outside.onnx"
    outside.write_bytes(b"not yours")
    for name in (str(outside), "../outside.onnx"):
        manifest["encoder"][key] = name
        (bundle / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match="leaves the bundle folder"):
            load_bundle(bundle, precision="int8")


# --- a hypothesis-made hostile REST suite


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(width=64) | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)
route_fields = st.fixed_dictionaries(
    {},
    optional={
        "prompt": json_values,
        "messages": json_values,
        "candidates": st.lists(
            st.fixed_dictionaries(
                {"id": st.text(max_size=300)},
                optional={
                    "model": st.text(max_size=300),
                    "input_cost_per_mtok": st.floats(width=64),
                    "labels": st.dictionaries(st.text(max_size=200), st.text(max_size=1100),
                                              max_size=3),
                },
            ),
            max_size=3,
        ),
        "session_id": st.text(max_size=300),
        "metadata": json_values,
        "quality_cost_tradeoff": st.floats(width=64),
        "request_id": st.text(max_size=200),
        "profile": st.text(max_size=300),
    },
)


def test_hypothesis_hostile_rest(server: ServerProcess) -> None:
    seen: set[int] = set()
    with httpx.Client(timeout=30) as c:

        @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=route_fields, path=st.sampled_from(["/v1/route", "/v1/classify"]))
        def check(body: dict[str, object], path: str) -> None:
            try:
                payload = json.dumps(body, allow_nan=True).encode()
            except (ValueError, TypeError):
                return
            r = c.post(f"{server.http}{path}", content=payload, headers=JSON)
            seen.add(r.status_code)
            assert r.status_code in (200, 400, 422), (r.status_code, r.text[:300])
            if r.status_code != 200:
                err = r.json()["error"]
                assert err["code"] and err["message"]
            assert len(r.content) < 64_000

        check()
    assert 400 in seen
    assert httpx.get(f"{server.http}/healthz").status_code == 200
