"""Pods and Redis for a target decision rate, from two measured JSON files (docs/capacity.md).

    .venv/bin/python bench/capacity_plan.py --latency bench/results/latency-tiers-int8-*.json \
        --redis bench/results/redis_cost-*.json [--rates 1000,10000,100000] [--pod-cpu 2] \
        [--hpa-target 70] [--feedback-share 1.0] [--decision-ttl 3600,300]

- decisions/s per core = 1000 / the server CPU ms per decision that bench/latency.py measured
  (user + system time of the sidecar's processes over a run, divided by its answers: the
  figure least moved by other load on the machine), per encoder tier and transport, the
  least favourable over the measured concurrency levels and worker counts;
- a pod of ``--pod-cpu`` cores (request = limit, ``routeiq.workers`` = cores) serves
  per-core x cores x HPA target utilisation at steady state: the HPA adds pods until average
  CPU is at its target, so that is the rate per pod it converges to;
- Redis per decision (bench/redis_cost.py): commands, bytes, Redis CPU and memory kept, a
  route plus ``--feedback-share`` of a feedback; memory = rate x decision_ttl_s x bytes kept;
  Redis runs commands on one thread, so a primary holds ``--redis-core-share`` of one core.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any


def per_core(latency: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(tier, transport) -> decisions per second per core: the least favourable cell over
    concurrency levels and worker counts."""
    out: dict[tuple[str, str], float] = {}
    for s in latency["servers"]:
        for c in s["cells"]:
            key = (s["tier"], c["transport"])
            rate = 1000 / c["cpu_ms_per_decision"]
            out[key] = min(out.get(key, math.inf), rate)  # the least favourable level
    return out


def plan(args: argparse.Namespace) -> str:
    latency = json.loads(args.latency.read_text())
    redis_cost = json.loads(args.redis.read_text())
    rates = [int(r) for r in args.rates.split(",")]
    cores = per_core(latency)
    target = args.hpa_target / 100
    load = latency["machine"]["load_avg_at_start"][0]
    lines = [
        f"inputs: `{latency['command']}` (load average {load:.1f} at start), "
        f"`{redis_cost['command']}`; pod = {args.pod_cpu} CPU (workers = "
        f"{args.pod_cpu}), HPA target {args.hpa_target}% CPU, feedback on "
        f"{args.feedback_share:.0%} of decisions",
        "",
        "| tier | transport | decisions/s per core | per pod at the HPA target | "
        + " | ".join(f"pods for {r:,}/s" for r in rates) + " |",
        "|---|---|---|---|" + "---|" * len(rates),
    ]
    for (tier, transport), rate in sorted(cores.items()):
        pod = rate * args.pod_cpu * target
        pods = [max(2, math.ceil(r / pod)) for r in rates]  # 2: the PDB keeps one up
        lines.append(f"| {tier} | {transport} | {rate:.0f} | {pod:.0f} | "
                     + " | ".join(str(p) for p in pods) + " |")
    route = redis_cost["phases"]["route"]
    fb = redis_cost["phases"]["feedback"]
    f = args.feedback_share

    def both(key: str) -> float:
        return float(route[key]) + f * float(fb[key])

    cmds, cpu_us = both("commands_total_per_decision"), both("redis_cpu_us_per_decision")
    net = both("bytes_in_per_decision") + both("bytes_out_per_decision")
    kept = both("memory_bytes_per_decision")
    lines += [
        "",
        f"Redis per decision (route + {f:g} feedback): {cmds:.1f} commands, {net:.0f} bytes on "
        f"the wire, {cpu_us:.0f} us of Redis CPU, {kept:.0f} bytes kept until decision_ttl_s",
        "",
        "| decisions/s | Redis commands/s | Redis CPU (cores) | primaries at "
        f"{args.redis_core_share:.0%} of a core | network MB/s | "
        + " | ".join(f"memory, decision_ttl_s {t}" for t in args.decision_ttl.split(",")) + " |",
        "|---|---|---|---|---|" + "---|" * len(args.decision_ttl.split(",")),
    ]
    for r in rates:
        mems = [r * int(t) * kept / 2**30 for t in args.decision_ttl.split(",")]
        lines.append(
            f"| {r:,} | {r * cmds:,.0f} | {r * cpu_us / 1e6:.2f} | "
            f"{math.ceil(r * cpu_us / 1e6 / args.redis_core_share)} | {r * net / 1e6:.1f} | "
            + " | ".join(f"{m:.1f} GiB" for m in mems) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--latency", type=Path, required=True, help="bench/latency.py's JSON")
    ap.add_argument("--redis", type=Path, required=True, help="bench/redis_cost.py's JSON")
    ap.add_argument("--rates", default="1000,10000,100000")
    ap.add_argument("--pod-cpu", type=int, default=2)
    ap.add_argument("--hpa-target", type=int, default=70, help="targetCPUUtilizationPercentage")
    ap.add_argument("--feedback-share", type=float, default=1.0)
    ap.add_argument("--redis-core-share", type=float, default=0.7,
                    help="share of one core a Redis primary (one command thread) may use")
    ap.add_argument("--decision-ttl", default="3600,300", help="decision_ttl_s values")
    print(plan(ap.parse_args()))


if __name__ == "__main__":
    main()
