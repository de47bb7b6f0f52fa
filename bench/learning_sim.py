"""Learning simulation: one candidate silently degrades; how fast does traffic move away?

The real engine (tiny random BERT bundle unless ``--bundle``, strategy ``centroid``, the memory
store) routes a stream of prompts over three candidates. Each answer gets a feedback score drawn
around the served candidate's true quality. At decision ``--degrade-at`` the candidate serving
most of the traffic degrades (its true quality drops to ``--degraded-quality``); the router is
not told. We count the decisions after that point until the degraded candidate's share of the
last ``--window`` decisions falls below 50 % and below 10 %, with feedback learning on (the
default settings) and off (``feedback_weight=0``), over several seeds.

    .venv/bin/python bench/learning_sim.py [--seeds 5] [--out bench/results]

Writes ``learning_sim.csv`` (rolling share per decision), ``learning_sim.json`` (the figures)
and, when matplotlib is installed, ``learning_sim.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import statistics
import tempfile
from collections import Counter, deque
from pathlib import Path
from typing import Any

from routeiq_sidecar.bundle.build import build_bundle
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.config import load_settings
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.types import CandidateSpec, RouteInput

CANDIDATES = (
    CandidateSpec("cheap", "openai/gpt-4o-mini", 0.15, 0.6),
    CandidateSpec("mid", "openai/gpt-4o", 2.5, 10.0),
    CandidateSpec("strong", "anthropic/claude-opus-4", 15.0, 75.0),
)
TRUE_QUALITY = {"cheap": 0.70, "mid": 0.80, "strong": 0.85}
PROMPTS = [
    "Write a haiku about autumn rain",
    "What is the capital of Australia?",
    "Translate 'good morning' into Spanish",
    "Prove that there are infinitely many primes",
    "Write a Python function that merges two sorted lists",
    "Explain the difference between TCP and UDP",
    "Summarise the plot of Hamlet in three sentences",
    "Design a database schema for a library with loans and reservations",
    "What is 17 times 23?",
    "Debug this: for i in range(10) print(i)",
    "Give me three names for a coffee shop",
    "Derive the gradient of softmax cross-entropy",
    "Write a limerick about a cat who codes",
    "Explain quantum entanglement to a ten-year-old",
    "Refactor a 500-line Java class into smaller services, step by step",
    "List the planets of the solar system",
    "Draft a polite email declining a meeting",
    "Compare merge sort and quicksort in time and space",
    "What causes the seasons on Earth?",
    "Write a SQL query for the top 5 customers by revenue last year",
]


def settings(tmp: Path, learning: bool, args: argparse.Namespace) -> Any:
    base: dict[str, Any] = {"home": tmp, "batch_wait_us": 0, "embed_cache_size": 4096}
    for name in ("feedback_weight", "feedback_prior_strength", "feedback_window"):
        if getattr(args, name) is not None:
            base[name] = getattr(args, name)
    if not learning:
        base["feedback_weight"] = 0.0
    return load_settings(**base)


async def run_once(
    bundle: LoadedBundle, tmp: Path, *, learning: bool, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    engine = Engine(settings(tmp, learning, args), bundle, Catalogue.empty())
    rng = random.Random(seed)
    quality = dict(TRUE_QUALITY)
    served: list[str] = []
    degraded = ""
    for i in range(args.decisions):
        if i == args.degrade_at:
            degraded = Counter(served[-args.window :]).most_common(1)[0][0]
            quality[degraded] = args.degraded_quality
        d = await engine.route(
            RouteInput(request_id=f"{seed}-{i}", prompt=rng.choice(PROMPTS), candidates=CANDIDATES)
        )
        sid = d.selected.id
        served.append(sid)
        score = min(1.0, max(0.0, rng.gauss(quality[sid], args.noise)))
        await engine.feedback(d.decision_id, {"score": score})
    await engine.close()
    recent: deque[str] = deque(maxlen=args.window)
    shares = []  # the degraded candidate's share of the last `window` decisions
    for sid in served:
        recent.append(sid)
        shares.append(sum(s == degraded for s in recent) / len(recent))

    def decisions_until(level: float) -> int | None:
        for j in range(args.degrade_at + args.window, args.decisions):
            if shares[j] < level:
                return j - args.degrade_at
        return None

    before = Counter(served[args.degrade_at - args.window : args.degrade_at])
    return {
        "learning": learning,
        "seed": seed,
        "degraded": degraded,
        "share_before": before[degraded] / args.window,
        "share_end": shares[-1],
        "to_50": decisions_until(0.5),
        "to_10": decisions_until(0.1),
        "served_after": sum(s == degraded for s in served[args.degrade_at :]),
        "shares": shares,
    }


def summarise(runs: list[dict[str, Any]], horizon: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, learning in (("with_feedback", True), ("without_feedback", False)):
        rs = [r for r in runs if r["learning"] is learning]

        def med(key: str, rs: list[dict[str, Any]] = rs) -> str:
            vals = [r[key] for r in rs]
            if any(v is None for v in vals):
                never = sum(v is None for v in vals)
                return f"> {horizon} ({never}/{len(vals)} runs never)"
            return f"{statistics.median(vals):g}"

        out[label] = {
            "median_decisions_to_50pct": med("to_50"),
            "median_decisions_to_10pct": med("to_10"),
            "median_served_by_degraded_after": med("served_after"),
            "mean_share_before": round(statistics.mean(r["share_before"] for r in rs), 3),
            "mean_share_at_end": round(statistics.mean(r["share_end"] for r in rs), 3),
            "per_seed": [
                {
                    k: r[k]
                    for k in ("seed", "degraded", "share_before", "to_50", "to_10", "served_after")
                }
                for r in rs
            ],
        }
    return out


def write_outputs(
    runs: list[dict[str, Any]], summary: dict[str, Any], args: argparse.Namespace
) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "learning_sim.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["learning", "seed", "decision", "degraded_share"])
        for r in runs:
            for i, s in enumerate(r["shares"]):
                w.writerow([int(r["learning"]), r["seed"], i, f"{s:.3f}"])
    meta = {k: v for k, v in vars(args).items() if k != "bundle"}
    (out / "learning_sim.json").write_text(json.dumps({"args": meta, **summary}, indent=2) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: wrote the CSV only (pip install matplotlib for the PNG)")
        return
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for learning, color in ((True, "tab:blue"), (False, "tab:red")):
        rs = [r for r in runs if r["learning"] is learning]
        for r in rs:
            ax.plot(r["shares"], color=color, alpha=0.25, lw=0.8)
        mean = [statistics.mean(col) for col in zip(*(r["shares"] for r in rs), strict=True)]
        ax.plot(mean, color=color, lw=2, label="with feedback" if learning else "without feedback")
    ax.axvline(args.degrade_at, color="k", ls="--", lw=1)
    ax.text(args.degrade_at + 5, 0.05, "candidate degrades", fontsize=8)
    ax.set_xlabel("decision")
    ax.set_ylabel(f"share of the degraded candidate (last {args.window})")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper right")
    ax.set_title("Traffic moving away from a silently degraded candidate")
    fig.tight_layout()
    fig.savefig(out / "learning_sim.png", dpi=120)
    print(f"wrote {out / 'learning_sim.png'}")


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if args.bundle:
            bundle = load_bundle(Path(args.bundle))
        else:
            build_bundle(tmp / "tiny", encoder="tiny-random", name="sim")
            bundle = load_bundle(tmp / "tiny")
        runs = []
        for seed in range(args.seeds):
            for learning in (True, False):
                runs.append(await run_once(bundle, tmp, learning=learning, seed=seed, args=args))
    summary = summarise(runs, args.decisions - args.degrade_at)
    write_outputs(runs, summary, args)
    for label in ("with_feedback", "without_feedback"):
        s = summary[label]
        print(
            f"{label:17s} share before {s['mean_share_before']:.2f}, at end "
            f"{s['mean_share_at_end']:.2f}; decisions to <50%: {s['median_decisions_to_50pct']}, "
            f"to <10%: {s['median_decisions_to_10pct']}; requests the degraded candidate "
            f"still served: {s['median_served_by_degraded_after']}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", default="", help="bundle folder (default: a tiny random one)")
    p.add_argument("--decisions", type=int, default=1500)
    p.add_argument("--degrade-at", type=int, default=500)
    p.add_argument("--degraded-quality", type=float, default=0.2)
    p.add_argument("--noise", type=float, default=0.15, help="sd of the feedback score")
    p.add_argument("--window", type=int, default=50, help="rolling window for the share")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--feedback-weight", type=float, default=None, help="default: the setting's")
    p.add_argument("--feedback-prior-strength", type=float, default=None)
    p.add_argument("--feedback-window", type=int, default=None)
    p.add_argument("--out", default="bench/results")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
