"""Latency the Envoy ext_proc hop adds: Envoy + RouteIQ against Envoy alone, same upstream.

    .venv/bin/python bench/envoy_hop.py [--requests 400] [--concurrency 1 16] [--rounds 2]
        [--bundle DIR] [--deadline-ms 100] [--message-timeout-ms 200] [--json OUT]

Runs, all on loopback: a "deployment" (an Envoy answering a fixed chat completion with
direct_response, so the upstream adds next to nothing), the sidecar (default bundle unless
``--bundle``; embedding cache off and a distinct prompt per request, so every decision runs the
encoder), and two Envoys rendered from client_stub/examples/envoy/envoy.yaml: one without the
ext_proc filter (alone) and one with it (routed, the example's settings: BUFFERED request body,
response headers sent for feedback, message_timeout 200 ms, failure_mode_allow true,
RouteIQ's ext_proc deadline 100 ms; both adjustable). Both Envoys reach the same deployment.
The client is a bare asyncio HTTP/1.1 client with ``c`` requests in flight on ``c`` kept-alive
connections; each round runs alone then routed, and rounds alternate to spread drift.
Then, without Envoy, the sidecar's gRPC port from a Python client one call at a time: a unary
Route against the ext_proc exchange (headers + body, and with response headers), to tell the
transport from the decision. Prints JSON, then Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeiq_sidecar._proto.envoy.config.core.v3 import base_pb2  # noqa: E402
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import (  # noqa: E402
    external_processor_pb2 as ep,
)
from routeiq_sidecar._proto.envoy.service.ext_proc.v3 import (  # noqa: E402
    external_processor_pb2_grpc as ep_grpc,
)
from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb  # noqa: E402
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc  # noqa: E402
from tests.conftest import LISTENING, ServerProcess, stop_server_process  # noqa: E402
from tests.integration.envoy_support import (  # noqa: E402
    EXAMPLE,
    EnvoyProcess,
    envoy_binary,
    envoy_stat,
    render_module,
    start_envoy,
)

PROMPTS = [
    "hi, how are you?",
    "Translate 'good morning' into French.",
    "Write a haiku about the sea.",
    "What is the capital of Australia?",
    "Prove that there are infinitely many primes of the form 4k+3.",
    "Explain the CAP theorem with an example of each trade-off.",
    "Write a Python function that merges overlapping intervals, with tests.",
    "Summarise the causes of the French Revolution in three sentences.",
    "Derive the closed form of the sum of the first n squares.",
    "Design a rate limiter for a distributed API gateway; discuss consistency.",
]
ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
}


DEPLOYMENT = """
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
    - name: deployment
      address: {socket_address: {address: 127.0.0.1, port_value: 0}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": HCM
                stat_prefix: deployment
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {prefix: /}
                          direct_response: {status: 200, body: {inline_string: ANSWER}}
                      response_headers_to_add:
                        - header: {key: content-type, value: application/json}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": ROUTER
"""
TYPES = "type.googleapis.com/envoy.extensions.filters."
HCM = TYPES + "network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = TYPES + "http.router.v3.Router"


def deployment_config(workdir: Path) -> Path:
    """An Envoy that answers every request at once: the upstream both setups share."""
    path = workdir / "envoy.yaml"
    text = DEPLOYMENT.replace("HCM", HCM).replace("ROUTER", ROUTER)
    path.write_text(text.replace("ANSWER", json.dumps(json.dumps(ANSWER))), encoding="utf-8")
    return path


def start_sidecar(args: list[str], env: dict[str, str], log: Path) -> ServerProcess:
    """The sidecar with its logs in a file (a pipe nobody reads would fill up and stall it)."""
    cmd = [sys.executable, "-m", "routeiq_sidecar", "serve", "--http-port", "0", "--grpc-port", "0"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*cmd, *args], stdout=out, stderr=out, text=True, env={**os.environ, **env}
        )
    deadline = time.monotonic() + 600  # the first start may build the default bundle
    while time.monotonic() < deadline:
        m = LISTENING.search(log.read_text())
        if m:
            return ServerProcess(proc, int(m.group(2)), int(m.group(4)), [])
        if proc.poll() is not None:
            sys.exit(f"sidecar exited {proc.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    proc.kill()
    sys.exit("sidecar did not start in 600 s")


def gateway_config(
    workdir: Path, grpc_port: int, deployment: str, ext_proc: bool, message_timeout_ms: int
) -> Path:
    r = render_module()
    config = r.render(
        r.load(),
        listen="127.0.0.1:0",
        admin="127.0.0.1:0",
        routeiq=f"127.0.0.1:{grpc_port}",
        upstreams={"cheap": deployment, "strong": deployment},
        ext_proc=ext_proc,
        message_timeout_ms=message_timeout_ms,
    )
    path = workdir / "envoy.yaml"
    path.write_text(r.dump(config), encoding="utf-8")
    return path


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 POST on a kept-alive connection; (status, raw response head)."""
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: " + host.encode() + b"\r\n"
        b"content-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1]), head.lower()


async def run_level(port: int, n: int, c: int, offset: int) -> dict[str, Any]:
    """``n`` chat requests, ``c`` in flight on ``c`` kept-alive connections.

    A bare asyncio HTTP/1.1 client (Envoy and the deployment answer with content-length): a
    general client such as httpx costs more CPU per request than Envoy itself, and on a
    2-core machine it would be what the figures measure.
    """
    lat: list[float] = []
    routed = errors = 0
    counter = iter(range(n))

    async def worker() -> None:
        nonlocal routed, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                k = offset + i
                text = f"{PROMPTS[k % len(PROMPTS)]} #{k}"
                body = json.dumps(
                    {"model": "auto", "messages": [{"role": "user", "content": text}]}
                ).encode()
                t0 = time.perf_counter()
                status, head = await _post(reader, writer, f"127.0.0.1:{port}", body)
                lat.append((time.perf_counter() - t0) * 1000)
                errors += status != 200
                routed += b"\r\nx-routeiq-decision-id:" in head
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    return {
        "latencies": lat,
        "routed": routed,
        "errors": errors,
        "wall_s": time.perf_counter() - t0,
    }


def _headers(**h: str) -> ep.HttpHeaders:
    return ep.HttpHeaders(
        headers=base_pb2.HeaderMap(
            headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in h.items()]
        )
    )


async def direct_grpc(port: int, n: int) -> dict[str, dict[str, float]]:
    """No Envoy: a Python gRPC client, one call at a time, against the sidecar's gRPC port.

    ``route``: a unary RouterService/Route (the decision plus a unary call);
    ``ext_proc``: what Envoy does per request (request headers, then the body);
    ``ext_proc_feedback``: the same plus the response headers (feedback).
    """
    out: dict[str, dict[str, float]] = {}
    head = _headers(**{":method": "POST", "content-type": "application/json"})
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        route, proc = pb_grpc.RouterServiceStub(ch), ep_grpc.ExternalProcessorStub(ch)
        for kind in ("route", "ext_proc", "ext_proc_feedback"):
            lat = []
            for i in range(n):
                text = f"{PROMPTS[i % len(PROMPTS)]} #{kind}{i}"
                t0 = time.perf_counter()
                if kind == "route":
                    msg = pb.Message(role="user", content=text)
                    await route.Route(pb.RouteRequest(model_group="auto", messages=[msg]))
                else:
                    body = json.dumps(
                        {"model": "auto", "messages": [{"role": "user", "content": text}]}
                    )
                    call = proc.Process()
                    await call.write(ep.ProcessingRequest(request_headers=head))
                    await call.read()
                    await call.write(
                        ep.ProcessingRequest(
                            request_body=ep.HttpBody(body=body.encode(), end_of_stream=True)
                        )
                    )
                    await call.read()
                    if kind == "ext_proc_feedback":
                        status = _headers(**{":status": "200"})
                        await call.write(ep.ProcessingRequest(response_headers=status))
                        await call.read()
                    await call.done_writing()
                    await call.code()
                lat.append((time.perf_counter() - t0) * 1000)
            out[kind] = {"p50_ms": round(pct(lat, 50), 3), "p99_ms": round(pct(lat, 99), 3)}
    return out


LABELS = {"envoy_alone": "Envoy alone", "envoy_routeiq": "Envoy + RouteIQ"}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [x for r in runs for x in r["latencies"]]
    wall = sum(r["wall_s"] for r in runs)
    return {
        "requests": len(lat),
        "p50_ms": round(pct(lat, 50), 3),
        "p99_ms": round(pct(lat, 99), 3),
        "mean_ms": round(statistics.fmean(lat), 3),
        "rps": round(len(lat) / wall, 1),
        "routed": sum(r["routed"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def degraded_total(http: str) -> float:
    text = httpx.get(f"{http}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("routeiq_degraded_total")
    )


def counters(http: str, routed: EnvoyProcess) -> dict[str, float]:
    """Degraded decisions (sidecar) and requests Envoy sent on without RouteIQ."""
    return {
        "degraded": degraded_total(http),
        "fail_open": envoy_stat(routed, "http.llm.ext_proc.failure_mode_allowed"),
        "message_timeouts": envoy_stat(routed, "http.llm.ext_proc.message_timeouts"),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--requests", type=int, default=400, help="requests per level, round, setup")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--bundle", type=Path, help="bundle folder (default: the default bundle)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--deadline-ms", type=int, default=100, help="ROUTEIQ_EXT_PROC_DEADLINE_MS")
    p.add_argument("--message-timeout-ms", type=int, default=200, help="Envoy's message_timeout")
    a = p.parse_args()
    load_at_start = round(os.getloadavg()[0], 2)
    binary = envoy_binary()
    if binary is None:
        sys.exit("no Envoy binary: bash scripts/install.sh dev")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for d in ("deployment", "alone", "routed"):
            (work / d).mkdir()
        sidecar = start_sidecar(
            ["--bundle", str(a.bundle)] if a.bundle else [],
            {
                "ROUTEIQ_CATALOGUE": str(EXAMPLE / "catalogue.yaml"),
                "ROUTEIQ_EMBED_CACHE_SIZE": "0",
                "ROUTEIQ_EXT_PROC_DEADLINE_MS": str(a.deadline_ms),
            },
            work / "sidecar.log",
        )
        envoys: list[EnvoyProcess] = []
        try:
            deployment = start_envoy(binary, deployment_config(work / "deployment"))
            envoys.append(deployment)
            target = f"127.0.0.1:{deployment.port}"
            alone = start_envoy(
                binary,
                gateway_config(
                    work / "alone", sidecar.grpc_port, target, False, a.message_timeout_ms
                ),
            )
            envoys.append(alone)
            routed = start_envoy(
                binary,
                gateway_config(
                    work / "routed", sidecar.grpc_port, target, True, a.message_timeout_ms
                ),
            )
            envoys.append(routed)
            setups = {"envoy_alone": alone, "envoy_routeiq": routed}
            for e in setups.values():  # warm-up: connections, the encoder, Envoy's pools
                asyncio.run(run_level(e.port, a.warmup, 4, 10_000_000))
            results: dict[str, Any] = {}
            offset = 0
            for c in a.concurrency:
                before = counters(sidecar.http, routed)
                runs: dict[str, list[dict[str, Any]]] = {k: [] for k in setups}
                for _ in range(a.rounds):
                    for name, e in setups.items():
                        runs[name].append(asyncio.run(run_level(e.port, a.requests, c, offset)))
                        offset += a.requests
                level: dict[str, Any] = {name: summary(r) for name, r in runs.items()}
                after = counters(sidecar.http, routed)
                level["envoy_routeiq"].update({k: int(after[k] - before[k]) for k in after})
                for q in ("p50", "p99"):
                    level[f"added_{q}_ms"] = round(
                        level["envoy_routeiq"][f"{q}_ms"] - level["envoy_alone"][f"{q}_ms"], 3
                    )
                results[f"c{c}"] = level
            results["direct_grpc_c1"] = asyncio.run(direct_grpc(sidecar.grpc_port, a.requests))
        finally:
            for e in envoys:
                e.stop()
            stop_server_process(sidecar)

    results["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_1m": [load_at_start, round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "bundle": str(a.bundle) if a.bundle else "default (MiniLM, fp32)",
        "requests_per_level_round_setup": a.requests,
        "rounds": a.rounds,
        "ext_proc_deadline_ms": a.deadline_ms,
        "envoy_message_timeout_ms": a.message_timeout_ms,
    }
    print(json.dumps(results, indent=2))
    if a.json:
        a.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print()
    print("| concurrency | setup | p50 ms | p99 ms | mean ms | req/s | routed | degraded |")
    print("|---|---|---|---|---|---|---|---|")
    for c in a.concurrency:
        level = results[f"c{c}"]
        for name in ("envoy_alone", "envoy_routeiq"):
            s = level[name]
            print(
                f"| {c} | {LABELS[name]} "
                f"| {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['mean_ms']:.2f} | {s['rps']:.0f} "
                f"| {s['routed']}/{s['requests']} | {s.get('degraded', '')} |"
            )
        print(
            f"| {c} | **added by the hop** | **{level['added_p50_ms']:.2f}** "
            f"| **{level['added_p99_ms']:.2f}** | | | | |"
        )
    print()
    print("| direct gRPC, c=1 | p50 ms | p99 ms |")
    print("|---|---|---|")
    for kind, s in results["direct_grpc_c1"].items():
        print(f"| {kind} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
