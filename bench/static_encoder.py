"""Bare encoder passes, one run, same prompts: the static encoder vs MiniLM int8 (and fp32).

For each of the latency benchmark's prompts (bench/latency.py: 300 mixed requests, seed 1,
the text the sidecar would embed), one call of each encoder on that prompt alone, interleaved
prompt by prompt so both see the same machine noise. MiniLM runs with as many onnxruntime
threads as cores (the serving default with one worker) and with one thread; the static encoder
is single-threaded numpy (tokenize, gather, sum, normalise); its tokenizing is also timed
through `tokenizers` itself, which ASCII prompts skip (model/ascii_wordpiece.py). Also how
far apart the two encoders put the prompts: the Spearman correlation of pairwise cosine
similarities.

    .venv/bin/python bench/static_encoder.py [--bundle DIR] [--requests 300]

Prints a markdown table; writes JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeiq_sidecar.bundle.default import ensure_default_bundle  # noqa: E402
from routeiq_sidecar.bundle.loader import encoder_for  # noqa: E402
from routeiq_sidecar.bundle.manifest import verify  # noqa: E402
from routeiq_sidecar.config import load_settings  # noqa: E402
from routeiq_sidecar.loadtest.prompts import mixed_requests, selected_text  # noqa: E402
from routeiq_sidecar.model.static_encoder import static_encoder_for  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from latency import machine  # noqa: E402


def stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean())}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = a.argsort().argsort().astype(float), b.argsort().argsort().astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    bundle = args.bundle or ensure_default_bundle(load_settings().home)
    manifest = verify(bundle)
    if "static" not in manifest:
        sys.exit(f"{bundle}: no static encoder (rebuild it: routeiq-sidecar bundle build)")
    cores = os.cpu_count() or 1
    encoders: dict[str, Any] = {
        "static": static_encoder_for(bundle, manifest["static"]),
        f"minilm int8, {cores} threads": encoder_for(bundle, manifest["encoder"], "int8", cores),
        "minilm int8, 1 thread": encoder_for(bundle, manifest["encoder"], "int8", 1),
        f"minilm fp32, {cores} threads": encoder_for(bundle, manifest["encoder"], "fp32", cores),
    }
    texts = [selected_text(b) for b in mixed_requests(args.requests, seed=1)]
    for enc in encoders.values():
        enc.encode(texts[:8])  # warm up
    lat: dict[str, list[float]] = {name: [] for name in encoders}
    vecs: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    static = encoders["static"]
    parts: dict[str, list[float]] = {"tokenize": [], "tokenize with `tokenizers`": [],
                                     "lookup": []}
    calls: dict[str, Callable[[list[str]], Any]] = {n: e.encode for n, e in encoders.items()}
    for text in texts:
        for name, call in calls.items():
            t0 = time.perf_counter_ns()
            out = call([text])
            lat[name].append((time.perf_counter_ns() - t0) / 1e6)
            vecs[name].append(out.vectors[0])
        ids, mask = static.tokenizer.encode([text])
        t1 = time.perf_counter_ns()
        static.run(ids, mask)
        parts["lookup"].append((time.perf_counter_ns() - t1) / 1e6)
        t2 = time.perf_counter_ns()
        static.tokenizer.encode([text])
        parts["tokenize"].append((time.perf_counter_ns() - t2) / 1e6)
        t3 = time.perf_counter_ns()  # the library's own path (ASCII prompts skip it above)
        static.tokenizer.library_ids(text)
        parts["tokenize with `tokenizers`"].append((time.perf_counter_ns() - t3) / 1e6)

    by = {name: stats(ms) for name, ms in lat.items()}
    ref = f"minilm int8, {cores} threads"
    sims = {n: np.stack(v) @ np.stack(v).T for n, v in vecs.items()}
    iu = np.triu_indices(len(texts), 1)
    report: dict[str, Any] = {
        "machine": machine(),
        "bundle": str(bundle),
        "static": {k: manifest["static"][k] for k in ("dim", "vocab_size", "dtype", "weighting")},
        "prompts": len(texts),
        "prompt_tokens_p50": float(np.median([static.tokenizer.count(t) for t in texts])),
        "encoders": by,
        "static_parts": {k: stats(v) for k, v in parts.items()},
        "median_speedup_over": {n: by[n]["p50_ms"] / by["static"]["p50_ms"] for n in by},
        "similarity_spearman_vs_" + ref: spearman(sims["static"][iu], sims[ref][iu]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"static_encoder-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(f"\nwritten {path}")


def render(rep: dict[str, Any]) -> str:
    rows = ["| encoder (bare pass, one prompt) | p50 ms | p99 ms | mean ms | p50 vs static |",
            "|---|---|---|---|---|"]
    for name, s in rep["encoders"].items():
        rows.append(f"| {name} | {s['p50_ms']:.3f} | {s['p99_ms']:.3f} | {s['mean_ms']:.3f} | "
                    f"{rep['median_speedup_over'][name]:.1f}x |")
    for part, s in rep["static_parts"].items():
        rows.append(f"| static: {part} only | {s['p50_ms']:.3f} | {s['p99_ms']:.3f} | "
                    f"{s['mean_ms']:.3f} | |")
    key = next(k for k in rep if k.startswith("similarity_spearman"))
    rows.append(f"\n{rep['prompts']} prompts (median {rep['prompt_tokens_p50']:.0f} tokens); "
                f"Spearman of pairwise similarities, static vs MiniLM: {rep[key]:.3f}; "
                f"load average at start {rep['machine']['load_avg_at_start']}")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
