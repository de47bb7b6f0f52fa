"""Does the int8 encoder change routing? Decisions of the fp32 and int8 encoders on the prompts
of a real data set, through the real engine (micro-batched as in serving, cache off), for every
strategy the bundle offers, plus the APGR of each precision on a strong/weak pair.

    .venv/bin/python bench/int8_agreement.py \
        --data ../shared/data/routerbench_subset_11models.jsonl \
        [--bundle DIR] [--limit 1000] [--strong gpt-4-1106-preview --weak mistralai/...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.bundle.loader import load_bundle  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.engine.catalogue import Catalogue  # noqa: E402
from routeiq_sidecar.engine.engine import Engine  # noqa: E402
from routeiq_sidecar.training.data import load_jsonl  # noqa: E402
from routeiq_sidecar.training.metrics import pair_report  # noqa: E402
from routeiq_sidecar.types import CandidateSpec, RouteInput  # noqa: E402

# Baselines whose decision does not depend on the embedding: nothing to compare.
EMBEDDING_FREE = {"random", "cheapest", "strongest", "length"}
CANDS = (
    CandidateSpec("cheap", "openai/gpt-4o-mini", 0.15, 0.6),
    CandidateSpec("mid", "openai/gpt-4o", 2.5, 10),
    CandidateSpec("strong", "anthropic/claude-opus-4", 15, 75, capabilities=("reasoning",)),
)


async def decide_all(
    bundle: Path, precision: str, prompts: list[str], strategy: str, pair: tuple[str, str] | None
) -> tuple[list[str], list[float]]:
    s = load_settings(encoder_precision=precision, embed_cache_size=0, log_decisions=False)
    engine = Engine(s, load_bundle(bundle, precision=precision), Catalogue.empty())
    cands = CANDS
    if pair is not None:  # strong/weak pair as candidates, so heads that know them score them
        cands = (CandidateSpec("strong", pair[0], 10, 30), CandidateSpec("weak", pair[1], 0.5, 1.5))
    picks: list[str] = []
    margins: list[float] = []
    for i in range(0, len(prompts), 32):  # 32 concurrent requests: batched like live traffic
        ds = await asyncio.gather(*(
            engine.route(RouteInput(request_id=f"r{i + j}", prompt=p, candidates=cands,
                                    strategy=strategy))
            for j, p in enumerate(prompts[i : i + 32])
        ))
        for d in ds:
            picks.append(d.selected.id)
            q = {r.candidate_id: r.predicted_quality for r in d.ranking}
            margins.append(q.get("strong", 0.0) - q.get("weak", q.get("cheap", 0.0)))
    await engine.close()
    return picks, margins


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--strong", default=None)
    ap.add_argument("--weak", default=None)
    args = ap.parse_args()
    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    ds = load_jsonl(args.data, limit=args.limit)
    prompts = [e.prompt for e in ds.examples]
    strategies = sorted(Engine(load_settings(), load_bundle(bundle), Catalogue.empty())
                        .strategy_names)
    out: dict[str, Any] = {"data": str(args.data), "prompts": len(prompts), "bundle": str(bundle),
                           "strategies": {}}
    pair = (args.strong, args.weak) if args.strong and args.weak else None
    for strategy in strategies:
        if strategy in EMBEDDING_FREE:
            continue
        p32, _ = asyncio.run(decide_all(bundle, "fp32", prompts, strategy, None))
        p8, _ = asyncio.run(decide_all(bundle, "int8", prompts, strategy, None))
        row: dict[str, Any] = {"agreement": float(np.mean([a == b for a, b in zip(p32, p8,
                                                                                  strict=True)]))}
        if pair is not None:
            strong = np.asarray([e.scores.get(pair[0], np.nan) for e in ds.examples])
            weak = np.asarray([e.scores.get(pair[1], np.nan) for e in ds.examples])
            ok = ~(np.isnan(strong) | np.isnan(weak))
            _, s32 = asyncio.run(decide_all(bundle, "fp32", prompts, strategy, pair))
            _, s8 = asyncio.run(decide_all(bundle, "int8", prompts, strategy, pair))
            a32 = pair_report(np.asarray(s32)[ok], strong[ok], weak[ok])["apgr"]
            a8 = pair_report(np.asarray(s8)[ok], strong[ok], weak[ok])["apgr"]
            row |= {"apgr_fp32": a32, "apgr_int8": a8, "apgr_delta": a8 - a32}
        out["strategies"][strategy] = row
        print(strategy, json.dumps(row), flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
