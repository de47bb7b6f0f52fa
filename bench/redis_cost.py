"""What each decision costs Redis: commands, bytes on the wire, Redis CPU and memory, measured
on a real ``redis-server`` (no persistence, a free port) behind a real sidecar.

    .venv/bin/python bench/redis_cost.py [--decisions 1000] [--bundle DIR] [--json OUT]

Three phases, each after ``CONFIG RESETSTAT``: N routes (no session), N feedbacks on those
decisions, N routes with a ``session_id`` (5 turns per session: stickiness). For each phase:
``INFO commandstats`` (calls per command; commands run inside Lua scripts are counted too,
``MONITOR`` on a sample tells which the sidecar sent), ``INFO stats`` bytes in and out,
``INFO cpu`` (Redis's own CPU seconds), and after the phase ``used_memory`` and keys. The
bench's own INFO/CONFIG calls are left out of the counts; its bytes are measured by an empty
phase and subtracted. Encoder work does not touch Redis, so the sidecar runs the static
encoder (fast); the default settings otherwise (learning on, decision_ttl_s 3600), but
redis_timeout_ms 2000 so a loaded machine never drops a call (that would skew the counts).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.loadtest.prompts import CANDIDATES, mixed_requests  # noqa: E402
from tests.conftest import start_server_process, stop_server_process  # noqa: E402
from tests.redis_support import RedisServer  # noqa: E402

OWN = {"info", "config|resetstat", "config", "dbsize", "memory|usage", "memory", "monitor",
       "scan", "ping", "hello", "client|setinfo", "client"}


def info(r: redis.Redis, section: str) -> dict[str, Any]:
    out: dict[str, Any] = r.info(section)
    return out


def commandstats(r: redis.Redis) -> dict[str, int]:
    stats = info(r, "commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def snapshot(r: redis.Redis) -> dict[str, float]:
    s, cpu, mem = info(r, "stats"), info(r, "cpu"), info(r, "memory")
    return {
        "in": float(s["total_net_input_bytes"]),
        "out": float(s["total_net_output_bytes"]),
        "cpu": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        "mem": float(mem["used_memory"]),
        "keys": float(r.dbsize()),
    }


def phase(r: redis.Redis, n: int, run: Any) -> dict[str, Any]:
    r.config_resetstat()
    before = snapshot(r)
    run()
    after = snapshot(r)
    calls = {k: v for k, v in commandstats(r).items() if k not in OWN}
    return {
        "n": n,
        "calls": calls,
        "bytes_in": after["in"] - before["in"],
        "bytes_out": after["out"] - before["out"],
        "redis_cpu_s": after["cpu"] - before["cpu"],
        "memory_delta": after["mem"] - before["mem"],
        "keys_delta": after["keys"] - before["keys"],
    }


def sent_by_sidecar(r: redis.Redis, run: Any) -> dict[str, int]:
    """Commands the sidecar sent (MONITOR lines from a client, not from a Lua script)."""
    seen: dict[str, int] = {}
    stop = threading.Event()
    ready = threading.Event()

    def watch() -> None:
        with r.monitor() as m:
            ready.set()
            for ev in m.listen():
                if stop.is_set():
                    break
                cmd = str(ev.get("command", "")).split(" ", 1)[0].lower()
                if ev.get("client_type") == "lua" or cmd in OWN:
                    continue
                seen[cmd] = seen.get(cmd, 0) + 1

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    ready.wait(10)
    time.sleep(0.2)
    run()
    time.sleep(0.5)
    stop.set()
    r.ping()  # one more line so the watcher wakes up and sees stop
    t.join(10)
    return seen


def per(x: float, n: int) -> float:
    return round(x / max(1, n), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--decisions", type=int, default=1000)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    n = args.decisions
    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"routeiq-redis-cost-{os.getpid()}"
    server = RedisServer(work / "redis").start()
    r = server.client()
    sp = start_server_process(
        "--bundle", str(bundle), "--home", str(work / "home"),
        env={"ROUTEIQ_REDIS_URL": server.url, "ROUTEIQ_ENCODER": "static",
             "ROUTEIQ_LOG_DECISIONS": "false",
             # a busy shared machine: a late answer must not count as Redis down
             "ROUTEIQ_REDIS_TIMEOUT_MS": "2000"},
    )  # fmt: skip
    bodies = [{**b, "candidates": CANDIDATES} for b in mixed_requests(n, seed=3)]
    ids: list[str] = []
    try:
        with httpx.Client(base_url=sp.http, timeout=60) as c:

            def route(session: bool = False, sink: list[str] | None = None) -> None:
                for i, b in enumerate(bodies):
                    body = {**b, "session_id": f"s{i // 5}"} if session else b
                    got = c.post("/v1/route", json=body)
                    got.raise_for_status()
                    if sink is not None:
                        sink.append(got.json()["decision_id"])

            def feedback() -> None:
                for i, d in enumerate(ids):
                    c.post("/v1/feedback", json={"decision_id": d, "success": i % 3 != 0,
                                                 "latency_ms": 800}).raise_for_status()

            for b in bodies[:20]:  # warm up: scripts loaded, connections open
                c.post("/v1/route", json=b).raise_for_status()
            idle = phase(r, 0, lambda: None)
            results = {
                "route": phase(r, n, lambda: route(sink=ids)),
                "feedback": phase(r, n, feedback),
                "route_with_session": phase(r, n, lambda: route(session=True)),
            }
            sample = bodies[:50]
            sent = {
                "route": sent_by_sidecar(r, lambda: [c.post("/v1/route", json=b) for b in sample]),
            }
            decision_key = next(iter(r.scan_iter(match="routeiq:dec:*", count=1000)))
            record_bytes = r.memory_usage(decision_key) or 0
            ttl = r.ttl(decision_key)
            version = info(r, "server")["redis_version"]
    finally:
        stop_server_process(sp)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {
        "command": " ".join(["bench/redis_cost.py", *sys.argv[1:]]),
        "decisions": n,
        "redis_version": version,
        "phases": {},
        "sent_by_sidecar_per_route": {k: per(v, len(sample)) for k, v in sent["route"].items()},
        "decision_key_memory_usage_bytes": record_bytes,
        "decision_key_ttl_s_max": ttl,
    }
    for name, p in results.items():
        report["phases"][name] = {
            "commands_per_decision": {k: per(v, n) for k, v in sorted(p["calls"].items())},
            "commands_total_per_decision": per(sum(p["calls"].values()), n),
            "bytes_in_per_decision": per(p["bytes_in"] - idle["bytes_in"], n),
            "bytes_out_per_decision": per(p["bytes_out"] - idle["bytes_out"], n),
            "redis_cpu_us_per_decision": round(1e6 * (p["redis_cpu_s"] - idle["redis_cpu_s"])
                                               / max(1, n), 1),
            "memory_bytes_per_decision": per(p["memory_delta"], n),
            "keys_per_decision": per(p["keys_delta"], n),
        }
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwritten {args.json}")


def render(rep: dict[str, Any]) -> str:
    lines = [f"`{rep['command']}`: {rep['decisions']} decisions per phase, "
             f"redis-server {rep['redis_version']}", "",
             "| phase | Redis commands / decision | by command | bytes in | bytes out | "
             "Redis CPU us | memory bytes kept | keys kept |",
             "|---|---|---|---|---|---|---|---|"]
    for name, p in rep["phases"].items():
        by = ", ".join(f"{k} {v:g}" for k, v in p["commands_per_decision"].items())
        lines.append(
            f"| {name} | {p['commands_total_per_decision']:g} | {by} | "
            f"{p['bytes_in_per_decision']:.0f} | {p['bytes_out_per_decision']:.0f} | "
            f"{p['redis_cpu_us_per_decision']:.1f} | {p['memory_bytes_per_decision']:.0f} | "
            f"{p['keys_per_decision']:g} |"
        )
    sent = ", ".join(f"{k} {v:g}" for k, v in rep["sent_by_sidecar_per_route"].items())
    lines += ["", f"sent by the sidecar per route (MONITOR, not from scripts): {sent}",
              f"one decision record: MEMORY USAGE {rep['decision_key_memory_usage_bytes']} bytes,"
              f" TTL {rep['decision_key_ttl_s_max']} s"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
