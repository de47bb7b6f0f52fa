"""Leave one file out, second round (docs/benchmarks.md, "Against the targets of issue 13"):
variants of the `difficulty` head scored on all four folds against `length` and the shipped
head, and the measurements the findings quote.

    .venv/bin/python bench/transfer_variants.py --home .routeiq-home [--json out.json]

Each fold is training/transfer.py's: the other files' heads (seed 0, the shipped settings),
the left-out file's evaluated rows and default strong/weak pair, the APGR of
training/metrics.py, int8 MiniLM embeddings through the embedding cache (texts the server
would not embed, e.g. the last question only, are embedded once and cached). Variants:

* 1a-1c, what the encoder is shown (transfer_variants_lib.TEXTS), head refitted on that text;
* 2, the kNN alone where the mean cosine of the 10 nearest training prompts >= tau, else
  `length` (``z(length) + [top >= tau] * beta * z(knn)``), on today's and on 1c's text;
* 3, ``z(length) + gamma * prior``: the category head's per-category failure (or strong-
  advantage) prior, learned on the training files; 2 + 3 together;
* 4a, the kNN of the raw (not z-scored) failure rate; 4b a bump,
  ``z(length) - beta * ((raw kNN failure - c) / 0.2) ** 2``;
* 5 (third round), vocabulary rarity (transfer_variants_lib.rarity, z-scored by the training
  files' prompts): alone, added to `length` and added to the shipped difficulty.

Settings named "best" (2, 3, 2 + 3, the advantage prior, 4b, 5b, 5c) are picked by the mean over the
four folds from the grids below; 2 on 1c's text keeps 2's gate and adds a fixed kNN weight.
Findings: how often the 256-token truncation cuts the end of the text, duplicate questions
across files, bootstrap standard errors of APGR differences (rows resampled, 200 draws,
seed 0), and two oracles (the true task's mean gap; a per-question difficulty measured on the
file's other models).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from transfer_args import add_data_args, data_paths
from transfer_variants_lib import (
    TEXTS,
    Fold,
    Signals,
    bootstrap_se,
    category_oracle,
    category_prior,
    difficulty_oracle,
    make_fold,
    question_key,
    rarity,
    raw_knn,
    signals,
    tail_cut,
    with_text,
)

from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.training.transfer import Loaded, load_file

SHORT = {"routellm_mmlu": "MMLU", "llmrouter_9models": "LLMRouter",
         "routerbench_subset_11models": "RouterBench", "routerdc_7models": "RouterDC"}
PEAKS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


class FoldData:
    """One fold: rows, per-text signals, category priors and the raw-failure kNN."""

    def __init__(self, fold: Fold, sig: dict[str, Signals], fail: np.ndarray,
                 adv: np.ndarray, raw: np.ndarray, rare: np.ndarray) -> None:
        self.fold, self.sig, self.fail, self.adv, self.raw = fold, sig, fail, adv, raw
        self.rare = rare  # vocabulary rarity, z-scored by the training files' prompts

    def gate(self, text: str, tau: float, beta: float, w0: float = 0.0,
             gamma: float = 0.0) -> np.ndarray:
        s = self.sig[text]
        return np.asarray(s.zl + w0 * s.zk + (s.top >= tau) * beta * s.zk + gamma * self.fail)


Score = Callable[[FoldData], np.ndarray]


def compute(files: dict[str, list[Loaded]], bundle: Any) -> list[FoldData]:
    cat = bundle.classifier.category_head
    out = []
    base = files["today"]
    rare = [rarity(f.ds.prompts, bundle) for f in base]
    for i, left in enumerate(base):
        others = [o for o in base if o is not left]
        fold = make_fold(left)
        sig, head = {}, None
        for text in TEXTS:
            fs = files[text]
            sig[text], h = signals(fs[i], [o for j, o in enumerate(fs) if j != i], fold)
            head = h if text == "today" else head
        assert head is not None
        emb = left.embeddings[fold.rows]
        seen = np.concatenate([r for j, r in enumerate(rare) if j != i])
        out.append(FoldData(fold, sig, category_prior(cat, others, emb, "fail"),
                            category_prior(cat, others, emb, "adv"),
                            raw_knn(head, others, emb),
                            (rare[i][fold.rows] - seen.mean()) / seen.std()))
        print(f"[fold {left.name} done]", file=sys.stderr, flush=True)
    return out


def scores(data: Sequence[FoldData], fn: Score) -> list[float]:
    return [fd.fold.apgr(fn(fd)) for fd in data]


def best(data: Sequence[FoldData], grid: Sequence[tuple[float, ...]],
         fn: Callable[..., Score]) -> tuple[tuple[float, ...], list[float]]:
    """The grid point with the highest mean APGR over the folds (first one on ties)."""
    scored = [(p, scores(data, fn(*p))) for p in grid]
    return max(scored, key=lambda x: float(np.mean(x[1])))


def variant_rows(data: Sequence[FoldData]) -> list[tuple[str, list[float]]]:
    rows: list[tuple[str, list[float]]] = [
        ("`length`", scores(data, lambda f: f.fold.lengths)),
        ("**shipped** `difficulty` (`w` 0.1)", scores(data, lambda f: f.sig["today"].d)),
        ("1a. clip at 4 chars/token (1,024 chars, head 2/3 + tail 1/3), `w` 0.1",
         scores(data, lambda f: f.sig["clip4"].d)),
        ("1b. tail-weighted clip (1,024 chars, head 1/3 + tail 2/3), `w` 0.1",
         scores(data, lambda f: f.sig["tail4"].d)),
        ("1c. only the text after the last answered few-shot block, then 1a, `w` 0.1",
         scores(data, lambda f: f.sig["lastq"].d)),
        ("1c, kNN part alone (`w` 1)", scores(data, lambda f: f.sig["lastq"].zk)),
    ]
    (tau, beta), v = best(data, list(itertools.product((0.7, 0.75, 0.8, 0.85), (1, 2, 4, 100))),
                          lambda t, b: lambda f: f.gate("today", t, b))
    rows.append((f"2. kNN (x {beta:g}) where the mean top-10 cosine >= {tau}, else `length`", v))
    rows.append((f"2 on 1c's text (>= {tau}, x {beta:g}), plus kNN weight 0.05 everywhere",
                 scores(data, lambda f: f.gate("lastq", tau, beta, 0.05))))
    (gamma,), v = best(data, [(g,) for g in (0.25, 0.5, 1, 2, 4, 100)],
                       lambda g: lambda f: f.sig["today"].zl + g * f.fail)
    rows.append((f"3. `length` + {gamma:g} x per-category failure prior (category head)", v))
    grid: list[tuple[float, ...]] = list(itertools.product(
        (0.7, 0.75, 0.8, 0.85), (1, 2, 4, 100), (0, 0.11, 0.25), (0, 0.5, 1, 2)))
    (tau, beta, w0, gamma), v = best(data, grid,
                                     lambda t, b, w, g: lambda f: f.gate("today", t, b, w, g))
    rows.append((f"2 + 3 (best mean of the grid: >= {tau}, x {beta:g}, kNN weight {w0:g}, "
                 f"prior x {gamma:g})", v))
    (gamma,), v = best(data, [(g,) for g in (0.25, 0.5, 1, 2, 4, 100)],
                       lambda g: lambda f: f.sig["today"].zl + g * f.adv)
    rows.append((f"3 with a strong-advantage prior instead (best weight, {gamma:g})", v))
    rows.append(("4a. raw (not z-scored) failure by kNN, harder goes strong",
                 scores(data, lambda f: f.raw)))
    grid = list(itertools.product((0.1, 0.2, 0.3, 0.4, 0.5, 0.6), (0.25, 0.5, 1, 2, 100)))
    (c, beta), v = best(data, grid, lambda c, b: lambda f: f.sig["today"].zl
                        - b * ((f.raw - c) / 0.2) ** 2)
    rows.append((f"4b. `length` - {beta:g} x ((kNN failure - {c:g}) / 0.2)^2 (best \"bump\")", v))
    rows.append(("5a. vocabulary rarity alone (mean log WordPiece id), rarer goes strong",
                 scores(data, lambda f: f.rare)))
    (gamma,), v = best(data, [(g,) for g in (-0.5, -0.25, 0.1, 0.25, 0.5, 1)],
                       lambda g: lambda f: f.sig["today"].zl + g * f.rare)
    rows.append((f"5b. `length` + {gamma:g} x rarity (best weight)", v))
    (gamma,), v = best(data, [(g,) for g in (-0.5, -0.25, 0.1, 0.25, 0.5, 1)],
                       lambda g: lambda f: f.sig["today"].d + g * f.rare)
    rows.append((f"5c. shipped + {gamma:g} x rarity (best weight)", v))
    return rows


def duplicates(files: Sequence[Loaded], data: Sequence[FoldData]) -> dict[str, Any]:
    keys = {f.name: {question_key(p) for p in f.ds.prompts} for f in files}
    overlap: dict[str, Any] = {}
    for a in files:
        idx = np.flatnonzero(a.test)
        for b in files:
            if a is b:
                continue
            hit = np.asarray([question_key(a.ds.prompts[i]) in keys[b.name] for i in idx])
            if hit.any():
                cats = np.asarray([a.ds.examples[i].category for i in idx], object)
                overlap[f"{a.name} test rows in {b.name}"] = {
                    "rows": int(hit.sum()), "of": len(idx), "by_category": {
                        str(c): f"{int(hit[cats == c].sum())}/{int((cats == c).sum())}"
                        for c in sorted(set(cats[hit]))}}
    split: dict[str, Any] = {}
    for left, fd in zip(files, data, strict=True):
        seen = set().union(*(keys[o.name] for o in files if o is not left))
        dup = np.asarray([question_key(left.ds.prompts[i]) in seen
                          for i in np.flatnonzero(fd.fold.rows)])
        if min(dup.sum(), (~dup).sum()) < 30:
            continue
        s = fd.sig["today"]
        split[left.name] = {name: {"rows": int(m.sum()), "knn": fd.fold.apgr(s.zk, m),
                                   "difficulty": fd.fold.apgr(s.d, m),
                                   "length": fd.fold.apgr(fd.fold.lengths, m)}
                            for name, m in (("duplicated", dup), ("new", ~dup))}
    return {"overlap": overlap, "fold_split": split}


def findings(files: Sequence[Loaded], data: Sequence[FoldData], bundle: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"tail_cut": tail_cut(files, bundle)}
    out["knn_alone_by_text"] = {t: [fd.fold.apgr(fd.sig[t].zk) for fd in data] for t in TEXTS}
    out["duplicates"] = duplicates(files, data)
    rng = np.random.default_rng(0)
    out["bootstrap_se"] = {}
    for fd in data:
        s, L = fd.sig["today"], fd.fold.lengths
        pairs = {"shipped - length": (s.d, L),
                 "gate+category - length": (fd.gate("today", 0.75, 100, 0, 2), L),
                 "category prior - length": (s.zl + 2 * fd.fail, L),
                 "1a - shipped": (fd.sig["clip4"].d, s.d)}
        out["bootstrap_se"][fd.fold.name] = {"rows": len(fd.fold.s),
                                             **bootstrap_se(fd.fold, pairs, rng)}
    out["category_oracle"] = {}
    out["difficulty_oracle"] = {}
    for left, fd in zip(files, data, strict=True):
        a, gaps = category_oracle(left, fd.fold)
        out["category_oracle"][left.name] = {"apgr": a, "categories": len(gaps),
                                             "gap_min": gaps[0], "gap_max": gaps[-1]}
        res = difficulty_oracle(left, fd.fold, PEAKS)
        if res is not None:
            out["difficulty_oracle"][left.name] = {"monotone": res[0], "bump": res[1]}
    return out


def print_report(names: Sequence[str], rows: list[tuple[str, list[float]]],
                 f: dict[str, Any]) -> None:
    print("| variant | " + " | ".join(SHORT.get(n, n) for n in names) + " | mean |")
    print("|---|" + "---|" * (len(names) + 1))
    for label, vals in rows:
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in vals)
              + f" | {np.mean(vals):.3f} |")
    ship = rows[1][1]
    print("\nText variants minus shipped, per fold: " + "; ".join(
        f"{lab.split('.')[0]} " + " / ".join(f"{v - s:+.3f}" for v, s in zip(vals, ship,
                                                                             strict=True))
        for lab, vals in rows[2:5]))
    print("\nTail cut by the 256-token truncation (evaluated prompts; tasks at >= 50%):")
    for name, shares in f["tail_cut"].items():
        tasks = ", ".join(f"{c} {v:.0%}" for c, v in shares.items() if c != "all" and v >= 0.5)
        print(f"  {name}: {shares['all']:.1%}" + (f" ({tasks})" if tasks else ""))
    print("kNN part alone per text: " + "; ".join(
        f"{t} " + " / ".join(f"{v:.3f}" for v in vals)
        for t, vals in f["knn_alone_by_text"].items()))
    print("\nDuplicate questions (test rows whose question is in another file):")
    for k, v in f["duplicates"]["overlap"].items():
        tasks = v["by_category"]  # listed when few (MMLU's 57 subjects are not)
        print(f"  {k}: {v['rows']}/{v['of']} ({v['rows'] / v['of']:.0%})" + (
            "; by task " + ", ".join(f"{c} {s}" for c, s in tasks.items())
            if len(tasks) <= 5 else f" in {len(tasks)} tasks"))
    for name, parts in f["duplicates"]["fold_split"].items():
        print(f"  fold {name}: " + "; ".join(
            f"{k} {p['rows']} rows: kNN {p['knn']:.3f}, difficulty {p['difficulty']:.3f}, "
            f"length {p['length']:.3f}" for k, p in parts.items()))
    print("\nBootstrap standard error of APGR differences (rows resampled, 200 draws):")
    for name, se in f["bootstrap_se"].items():
        print(f"  {name} ({se['rows']} rows): " + ", ".join(
            f"{k} {v:.3f}" for k, v in se.items() if k != "rows"))
    print("\nOracle: rows ranked by their true task's mean strong-minus-weak gap:")
    for name, o in f["category_oracle"].items():
        print(f"  {name}: APGR {o['apgr']:.3f} ({o['categories']} tasks, gaps "
              f"{o['gap_min']:+.2f}..{o['gap_max']:+.2f})")
    print("Oracle: per-question failure over the file's other models (pair left out):")
    for name, o in f["difficulty_oracle"].items():
        peak = max(o["bump"], key=o["bump"].get)
        print(f"  {name}: harder goes strong {o['monotone']:.3f}; bump " + ", ".join(
            f"{c:g} {v:.3f}" for c, v in o["bump"].items()) + f" (best at {peak:g})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    paths = data_paths(args)
    if paths is None:
        return 2
    start = time.perf_counter()
    bundle = load_bundle(ensure_default_bundle(args.home), precision=args.precision)
    cache = args.home / "embeddings"
    base = [load_file(p, bundle, cache, args.precision) for p in paths]
    files = {t: with_text(base, t, bundle, cache, args.precision) for t in TEXTS}
    data = compute(files, bundle)
    rows = variant_rows(data)
    found = findings(base, data, bundle)
    print_report([f.name for f in base], rows, found)
    print(f"\n({time.perf_counter() - start:.0f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps(
            {"files": [f.name for f in base], "precision": args.precision, "seed": 0,
             "variants": [{"variant": lab, "apgr": vals, "mean": float(np.mean(vals))}
                          for lab, vals in rows], "findings": found}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
