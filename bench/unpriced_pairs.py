"""Candidates sent by name only (no price, no ``quality_prior``): how the default bundle routes
the 38 hand-written prompts of ``tests/integration/expected_routes.yaml`` between two siblings.

For each pair (the bigger sibling listed first, so a tie goes to it) prints how many of the 20
easy prompts went to the small sibling and how many of the 18 hard ones to the big one. Runs
in process on the default bundle (built on first use). It imports the package from the
current directory first, so running it from another checkout measures that checkout's code::

    .venv/bin/python bench/unpriced_pairs.py [--json PATH]
    git worktree add /tmp/old REV && (cd /tmp/old && /path/to/.venv/bin/python \\
        /path/to/bench/unpriced_pairs.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.getcwd())

import yaml

from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.config import load_settings
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.types import CandidateSpec, RouteInput

EXPECTED = Path(__file__).resolve().parents[1] / "tests" / "integration" / "expected_routes.yaml"
PAIRS = {  # (big sibling, small sibling)
    "openai": ("openai/gpt-4o", "openai/gpt-4o-mini"),
    "anthropic": ("claude-3-opus-20240229", "claude-3-haiku-20240307"),
    "llama": ("meta-llama/Llama-3-70b-chat-hf", "meta-llama/Llama-3-8b-chat-hf"),
    "qwen": ("Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
    # two minor versions of one family, as hosted side by side: the head knows the 8B only
    "llama-3.x": ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
}


async def measure() -> dict[str, dict[str, int]]:
    prompts = yaml.safe_load(EXPECTED.read_text())
    settings = load_settings()
    bundle = load_bundle(ensure_default_bundle(settings.home))
    home = Path(tempfile.mkdtemp(prefix="routeiq-unpriced-"))
    engine = Engine(settings.model_copy(update={"home": home, "redis_url": None}), bundle,
                    Catalogue.empty())
    out = {}
    try:
        for family, (big, small) in PAIRS.items():
            cands = (CandidateSpec("strong", big, price_known=False),
                     CandidateSpec("cheap", small, price_known=False))
            hits = {"cheap": 0, "strong": 0}
            for want in hits:
                for p in prompts[want]:
                    d = await engine.route(RouteInput(request_id="bench", prompt=p,
                                                      candidates=cands))
                    hits[want] += d.selected.id == want
            out[family] = {"easy_to_small": hits["cheap"], "easy": len(prompts["cheap"]),
                           "hard_to_big": hits["strong"], "hard": len(prompts["strong"])}
    finally:
        await engine.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    got = asyncio.run(measure())
    print("| pair (big / small) | easy prompts to the small one | hard prompts to the big one |")
    print("|---|---|---|")
    for family, r in got.items():
        big, small = PAIRS[family]
        print(f"| {big} / {small} | {r['easy_to_small']}/{r['easy']} | "
              f"{r['hard_to_big']}/{r['hard']} |")
    if args.json:
        args.json.write_text(json.dumps(got, indent=2) + "\n")


if __name__ == "__main__":
    main()
