"""Both HTTP parsers (h11, httptools) on both event loops (asyncio, uvloop) serve the same REST
API and cut slow headers the same way (a real ``serve`` subprocess each, raw sockets)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.config import ConfigError, load_settings
from tests.conftest import CHEAP, STRONG, ServerProcess, start_server_process, stop_server_process
from tests.integration.test_hostile_rest import assert_slow_headers_cut

pytest.importorskip("httptools")
pytest.importorskip("uvloop")

BODY = {"prompt": "what is 2+2?", "candidates": [CHEAP, STRONG]}


@pytest.fixture(
    scope="module", params=[("h11", "asyncio"), ("httptools", "uvloop"), ("httptools", "asyncio")]
)
def server(
    request: pytest.FixtureRequest, tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    parser, loop = request.param
    sp = start_server_process(
        "--bundle",
        str(tiny_bundle_path),
        "--home",
        str(tmp_path_factory.mktemp("parsers")),
        env={
            "ROUTEIQ_HTTP_PARSER": parser,
            "ROUTEIQ_EVENT_LOOP": loop,
            "ROUTEIQ_HEADER_TIMEOUT_S": "2",
            "ROUTEIQ_BATCH_WAIT_US": "0",
        },
    )
    assert any(f"event loop {loop}, HTTP parser {parser}" in line for line in sp.lines), sp.lines
    yield sp
    stop_server_process(sp)


def test_slow_headers_are_cut(server: ServerProcess) -> None:
    assert_slow_headers_cut(server, 20)


def request(extra: bytes = b"") -> bytes:
    body = json.dumps(BODY).encode()
    return (
        b"POST /v1/route HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + extra + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def read_answers(s: socket.socket, n: int) -> bytes:
    data = b""
    while data.count(b"HTTP/1.1 ") < n or not data.rstrip().endswith(b"}"):
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_one_kept_connection_serves_request_after_request(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as s:
        for _ in range(5):
            s.sendall(request())
            assert read_answers(s, 1).startswith(b"HTTP/1.1 200")


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=30) as s:
        s.sendall(request(b"x-request-id: one\r\n") + request(b"x-request-id: two\r\n"))
        data = read_answers(s, 2)
    assert data.count(b"HTTP/1.1 200") == 2
    assert data.index(b"x-request-id: one") < data.index(b"x-request-id: two")


def test_errors_and_grpc_are_unchanged(server: ServerProcess) -> None:
    r = httpx.post(f"{server.http}/v1/route", content=b"{", headers={"content-type":
                                                                      "application/json"})
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    r = httpx.post(f"{server.http}/v1/route", json={**BODY, "requestId": "camel"})
    assert r.status_code == 200 and r.json()["request_id"] == "camel"  # proto JSON names
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as ch:
        resp = pb_grpc.RouterServiceStub(ch).Route(
            pb.RouteRequest(prompt="hi", candidates=[pb.Candidate(id="a", model="m")]), timeout=30
        )
    assert resp.selected_id == "a"


def test_asking_for_a_missing_one_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "httptools" else real(name, *a))
    with pytest.raises(ConfigError, match=r"http.parser.*httptools is not installed"):
        load_settings(http_parser="httptools")
