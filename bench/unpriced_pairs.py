"""Candidate pairs the default head does not fully know: how the default bundle routes the 38
hand-written prompts of ``tests/integration/expected_routes.yaml`` between the two.

``--set names`` (the default): siblings sent by name only (no price, no ``quality_prior``).
``--set mixed``: a model the head learned (a small open model of its training files) next to
a frontier API model it does not know, both with hosted prices ($ per million tokens, input /
output, as listed by their providers in 2025), so a learned standing meets a price prior.

For each pair (the bigger or stronger model listed first, so a tie goes to it) prints how many
of the 20 easy prompts went to the small model and how many of the 18 hard ones to the big one.
Runs in process on the default bundle (built on first use). It imports the package from the
current directory first, so running it from another checkout measures that checkout's code::

    .venv/bin/python bench/unpriced_pairs.py [--set names|mixed] [--json PATH]
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
MIXED = {  # (frontier model, its prices), (learned small model, its prices)
    "gpt-4o / gemma-2-9b": (("openai/gpt-4o", 2.5, 10.0), ("gemma-2-9b-it", 0.2, 0.2)),
    "claude-3.5-sonnet / qwen2.5-7b": (("anthropic/claude-3-5-sonnet-20241022", 3.0, 15.0),
                                       ("qwen2.5-7b-instruct", 0.3, 0.3)),
    "gpt-4.1 / llama-3.1-8b": (("openai/gpt-4.1", 2.0, 8.0),
                               ("llama-3.1-8b-instruct", 0.18, 0.18)),
    "gpt-4o-mini / mistral-7b": (("openai/gpt-4o-mini", 0.15, 0.6),
                                 ("mistral-7b-instruct-v0.3", 0.2, 0.2)),
}


def pairs(which: str) -> dict[str, tuple[CandidateSpec, CandidateSpec]]:
    if which == "names":
        return {k: (CandidateSpec("strong", big, price_known=False),
                    CandidateSpec("cheap", small, price_known=False))
                for k, (big, small) in PAIRS.items()}
    return {k: (CandidateSpec("strong", *big), CandidateSpec("cheap", *small))
            for k, (big, small) in MIXED.items()}


async def measure(which: str = "names") -> dict[str, dict[str, int]]:
    prompts = yaml.safe_load(EXPECTED.read_text())
    settings = load_settings()
    bundle = load_bundle(ensure_default_bundle(settings.home))
    home = Path(tempfile.mkdtemp(prefix="routeiq-unpriced-"))
    engine = Engine(settings.model_copy(update={"home": home, "redis_url": None}), bundle,
                    Catalogue.empty())
    out = {}
    try:
        for family, cands in pairs(which).items():
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
    ap.add_argument("--set", dest="which", choices=("names", "mixed"), default="names")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    got = asyncio.run(measure(args.which))
    cands = pairs(args.which)
    print("| pair (big / small) | easy prompts to the small one | hard prompts to the big one |")
    print("|---|---|---|")
    for family, r in got.items():
        big, small = (c.model for c in cands[family])
        print(f"| {big} / {small} | {r['easy_to_small']}/{r['easy']} | "
              f"{r['hard_to_big']}/{r['hard']} |")
    if args.json:
        args.json.write_text(json.dumps(got, indent=2) + "\n")


if __name__ == "__main__":
    main()
