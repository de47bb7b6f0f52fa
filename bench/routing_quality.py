"""Routing quality of the trained strategies on each data set's held-out split (docs/benchmarks.md).

For every data file of ../shared/data: train a bundle exactly as
``routeiq-sidecar train --data F --split S --seed 0 --home HOME --out OUT`` does (same code), then
evaluate it as ``routeiq-sidecar eval --bundle OUT --data F --home HOME`` (the held-out rows of
that split), and print markdown tables: APGR / CPT(50) / CPT(80) for the strong/weak pair and
AIQ for the many-model quality-cost curves, every strategy against random, length and oracle.

Splits keep test prompts out of training: MMLU holds out whole subjects (``group``), LLMRouter
and RouterBench use their own ``split`` column (``field``; LLMRouter test prompts that also
occur in its training part are dropped). Embeddings are cached under ``HOME/embeddings``, so a
rerun only refits the heads.

    .venv/bin/python bench/routing_quality.py --home .routeiq-home [--plots docs/img]

``--encoder static`` trains and evaluates heads on the bundle's static encoder instead
(``train --encoder static``, ``eval --encoder static``); ``--encoder cascade`` trains heads on
both and adds a side-by-side table: each strategy on MiniLM, on the static encoder, and the
cascade of the two at each ``--margins`` value with its escalated share (``eval --encoder
cascade``); the other tables are then the static tier's. ``--base DIR`` names the base bundle
(default: the default bundle under HOME).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.training.evaluate import EvalOptions, evaluate
from routeiq_sidecar.training.train import TrainOptions, train_bundle

ROOT = Path(__file__).resolve().parents[1]
SETS = (  # (file stem, held-out split); MMLU random: same subjects, unseen questions (context)
    ("routellm_mmlu", "group"),
    ("llmrouter_9models", "field"),
    ("routerbench_subset_11models", "field"),
    ("routellm_mmlu", "random"),
)
STRATEGIES = ("knn", "mlp", "mf")


def fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}")


def run_set(stem: str, split: str, args: argparse.Namespace, base: Path) -> dict[str, Any]:
    data = args.data_dir / f"{stem}.jsonl"
    suffix = "" if args.encoder == "minilm" else f"-{args.encoder}"
    out = args.home / "trained" / f"{stem}-{split}{suffix}"
    t0 = time.perf_counter()
    cache, precision, kind = args.home / "embeddings", args.encoder_precision, args.encoder
    manifest = train_bundle(TrainOptions(data=data, out=out, base_bundle=base, split=split,
                                         seed=args.seed, cache_dir=cache, precision=precision,
                                         encoder=kind),
                            base=load_bundle(base, precision=precision, encoder=kind))
    t1 = time.perf_counter()
    report, curves = evaluate(EvalOptions(bundle=out, data=data, cache_dir=cache,
                                          precision=precision, encoder=kind,
                                          cascade_margins=args.margins))
    if args.plots is not None:
        from routeiq_sidecar.training.plot import plot_report

        plot_report(report, curves, args.plots / f"routing-{stem}-{split}{suffix}.png")
    return {"stem": stem, "split": split, "manifest": manifest, "report": report,
            "train_s": t1 - t0, "eval_s": time.perf_counter() - t1}


def pair_table(results: list[dict[str, Any]]) -> str:
    rows = ["| data set (held-out rows) | strong / weak | router | APGR | CPT(50) | CPT(80) |",
            "|---|---|---|---|---|---|"]
    for r in results:
        rep, p = r["report"], r["report"]["pair"]
        where = f"{r['stem']} ({r['split']}, {p['n']} prompts)"
        pair = f"{p['strong']} / {p['weak']}"
        default = rep["bundle"]["default_strategy"]
        entries = [(f"**{n}**" if n == default else n, v) for n, v in p["routers"].items()]
        entries += [("random", p["random"]), ("length", p["length"]), ("oracle", p["oracle"])]
        for name, v in entries:
            rows.append(f"| {where} | {pair} | {name} | {fmt(v['apgr'])} | "
                        f"{fmt(v['cpt50'], True)} | {fmt(v['cpt80'], True)} |")
            where = pair = ""
    return "\n".join(rows)


def side_by_side(results: list[dict[str, Any]], margins: tuple[float, ...]) -> str:
    head = "| data set | strategy | MiniLM | static | " + " | ".join(
        f"cascade @{m:g}" for m in margins) + " |"
    rows = [head, "|" + "---|" * (4 + len(margins))]
    for r in results:
        where = f"{r['stem']} ({r['split']})"
        for name, e in r["report"]["cascade"]["strategies"].items():
            cells = [f"{fmt(e[k]['apgr'])} / {fmt(e[k]['cpt50'], True)}"
                     for k in ("minilm", "static")]
            cells += [f"{fmt(e[f'cascade@{m:g}']['apgr'])} / "
                      f"{fmt(e[f'cascade@{m:g}']['escalated_mean'], True)}" for m in margins]
            rows.append(f"| {where} | {name} | " + " | ".join(cells) + " |")
            where = ""
    return "\n".join(rows)


def multi_table(results: list[dict[str, Any]]) -> str:
    rows = ["| data set (held-out rows) | router | AIQ | best mean score |", "|---|---|---|---|"]
    for r in results:
        m = r["report"].get("multi")
        if m is None:
            continue
        where = f"{r['stem']} ({m['n']} prompts, {len(m['models'])} models)"
        for name, v in m["routers"].items():
            rows.append(f"| {where} | {name} | {fmt(v['aiq'])} | {fmt(v['best_score'])} |")
            where = ""
        bs, ch = m["best_single"], m["cheapest"]
        rows.append(f"| | random mix of single models | {fmt(m['random']['aiq'])} | |")
        rows.append(f"| | oracle | {fmt(m['oracle']['aiq'])} | {fmt(m['oracle']['score'])} |")
        rows.append(f"| | best single: {bs['model']} (${bs['cost']:.2e}/prompt) | | "
                    f"{fmt(bs['score'])} |")
        rows.append(f"| | cheapest: {ch['model']} (${ch['cost']:.2e}/prompt) | | "
                    f"{fmt(ch['score'])} |")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--home", type=Path, default=ROOT / ".routeiq-home")
    p.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--sets", default=",".join(f"{a}:{b}" for a, b in SETS),
                   help="comma-separated STEM:SPLIT pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--encoder-precision", default="int8", choices=["fp32", "int8"],
                   help="encoder used to train and evaluate (the server's default: int8)")
    p.add_argument("--encoder", default="minilm", choices=["minilm", "static", "cascade"],
                   help="encoder whose vectors the heads learn from (train/eval --encoder)")
    p.add_argument("--margins", type=lambda v: tuple(float(x) for x in v.split(",")),
                   default=(0.02, 0.05, 0.1, 0.2), help="cascade margins to evaluate")
    p.add_argument("--base", type=Path, default=None,
                   help="base bundle (default: the default bundle under --home)")
    p.add_argument("--plots", type=Path, default=None, help="write routing-STEM-SPLIT.png here")
    p.add_argument("--json", type=Path, default=None, help="also write the raw reports here")
    args = p.parse_args()
    if not args.data_dir.is_dir():
        print(f"no data at {args.data_dir} (see ../shared/data/README.md)", file=sys.stderr)
        return 2
    base = args.base or ensure_default_bundle(args.home)
    pairs = [item.split(":", 1) for item in args.sets.split(",") if item]
    results = [run_set(stem, split, args, base) for stem, split in pairs]
    encoder = {"static": "static (distilled from MiniLM)",
               "cascade": f"cascade: static, then MiniLM ({args.encoder_precision})"}.get(
                   args.encoder, f"MiniLM ({args.encoder_precision})")
    print(f"Machine: {machine()}. Seed {args.seed}. Encoder: {encoder}, bundle {base}.\n")
    print("Strong/weak pair (router score = predicted quality of strong - of weak; "
          "bold = the bundle's default strategy, chosen on validation rows):\n")
    print(pair_table(results))
    if args.encoder == "cascade":
        print("\nSide by side (APGR / CPT(50); cascade: APGR / escalated share averaged over "
              "the curve):\n")
        print(side_by_side(results, args.margins))
    print("\nMany models with costs (decision rule's lambda sweep; AIQ in score units):\n")
    print(multi_table(results))
    print("\nTimings (train incl. embedding of uncached prompts / eval):")
    for r in results:
        v = r["manifest"]["training"]["validation"]
        print(f"- {r['stem']} ({r['split']}): train {r['train_s']:.0f} s, "
              f"eval {r['eval_s']:.0f} s; "
              f"{r['manifest']['training']['split']['n_train']} training rows "
              f"({v['n_fit']} fit + {v['n_validation']} validation, {v['method']}); "
              f"validation scores {v['scores']}")
    if args.json is not None:
        args.json.write_text(json.dumps(
            {f"{r['stem']}:{r['split']}": r["report"] for r in results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
