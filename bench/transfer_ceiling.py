"""What a router trained on the left-out file itself reaches: the in-file ceiling of each
leave-one-file-out fold (docs/benchmarks.md, "What the very file allows").

Issue 13 asks the default router, fitted on three outcome files, to beat `length` by 0.05
APGR on the fourth and to average 0.65. This script measures how far routers get when they
are instead fitted on the fourth file's own outcomes for the very pair measured, a far easier
task than transfer. For each file, the fold's evaluated rows (its test rows when it has a
``split`` column, else all rows) and its strong/weak pair (training/pairs.py, as in
training/transfer.py) are cut into five parts by prompt text (a text and its duplicates fall
in one part). Each part is predicted by routers fitted on every other row of the same file
with both scores (its train split included; rows whose text is in the part excluded), on the
target ``strong score - weak score``:

* ``knn``: the mean gap of the ``k`` nearest training prompts (cosine of the serving
  encoder's embeddings, the same cached embeddings as bench/transfer.py);
* ``ridge text``: ridge regression on the embedding, log tokens and the 13 structural
  features of training/transfer_features.py;
* ``task``: the mean gap of the prompt's task label (the file's ``category`` column), which
  no serving router knows;
* ``other models``: ridge on the other models' scores on the same prompt (how every other
  model of the file did on this very question) plus log tokens, information no router has
  before the call;
* ``text + other models``: both inputs.

Each router's grid is scored on the evaluated rows themselves and the best cell is reported,
which flatters every row: these are ceilings, not routers. Prints a markdown table and, with
``--json``, writes every cell.

    .venv/bin/python bench/transfer_ceiling.py --home .routeiq-home [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from transfer_args import add_data_args, data_paths

from routeiq_sidecar.bundle.default import ensure_default_bundle
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.training.data import cost_matrix, score_matrix
from routeiq_sidecar.training.metrics import apgr, pair_curve
from routeiq_sidecar.training.pairs import default_pair
from routeiq_sidecar.training.transfer import Loaded, load_file

PARTS = 5
KS = (5, 10, 30, 100, 300)
ALPHAS = (1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


def parts_by_text(texts: list[str], n_parts: int, seed: int) -> np.ndarray:
    """A part number per row, the same for every row of one text."""
    unique = sorted(set(texts))
    order = np.random.default_rng(seed).permutation(len(unique))
    part_of = {unique[i]: int(p) % n_parts for p, i in enumerate(order)}
    return np.asarray([part_of[t] for t in texts])


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(0), train.std(0)
    sd[sd == 0] = 1.0
    return (train - mu) / sd, (test - mu) / sd


def ridge(x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray,
          alphas: tuple[float, ...]) -> dict[float, np.ndarray]:
    """Ridge with an unpenalised intercept, inputs standardised on the training rows: the
    test predictions for every ``alpha`` (one standardisation and Gram matrix for all)."""
    a, b = standardise(x_train, x_test)
    ym = y.mean()
    gram, rhs, eye = a.T @ a, a.T @ (y - ym), np.eye(a.shape[1])
    return {alpha: np.asarray(b @ np.linalg.solve(gram + alpha * eye, rhs) + ym)
            for alpha in alphas}


def knn_means(emb_train: np.ndarray, y: np.ndarray, emb_test: np.ndarray,
              ks: tuple[int, ...]) -> dict[int, np.ndarray]:
    """The mean target of the ``k`` nearest training rows (cosine), for every ``k``."""
    out = {k: np.empty(len(emb_test)) for k in ks}
    kmax = min(max(ks), len(emb_train))
    for start in range(0, len(emb_test), 1024):
        sims = emb_test[start:start + 1024] @ emb_train.T
        top = np.argpartition(-sims, kmax - 1, axis=1)[:, :kmax]
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1)
        near = y[np.take_along_axis(top, order, 1)]
        for k in ks:
            out[k][start:start + len(near)] = near[:, :min(k, kmax)].mean(1)
    return out


def task_means(tasks: np.ndarray, y: np.ndarray, test_tasks: np.ndarray) -> np.ndarray:
    means = {t: float(y[tasks == t].mean()) for t in set(tasks.tolist())}
    fallback = float(y.mean())
    return np.asarray([means.get(t, fallback) for t in test_tasks.tolist()])


def score(pred: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    return float(apgr(pair_curve(pred, s, w)))


def ceiling(f: Loaded, seed: int) -> dict[str, Any]:
    ds = f.ds
    scores, costs = score_matrix(ds, ds.models), cost_matrix(ds, ds.models)
    strong, weak = default_pair(ds.models, scores[f.test], costs[f.test])
    si, wi = ds.models.index(strong), ds.models.index(weak)
    both = np.isfinite(scores[:, si]) & np.isfinite(scores[:, wi])
    evaluated = np.flatnonzero(f.test & both)
    usable = np.flatnonzero(both)
    texts = ds.prompts
    gap = scores[:, si] - scores[:, wi]
    log_tok = np.log(f.tokens)[:, None]
    text_x = np.hstack([f.embeddings.astype(np.float64), log_tok, f.structural])
    others = [j for j in range(len(ds.models)) if j not in (si, wi)]
    other_sc = scores[:, others]
    fill = np.nanmean(other_sc[usable], axis=0)  # a model missing on a prompt: its mean
    other_sc = np.where(np.isfinite(other_sc), other_sc, fill[None, :])
    other_x = np.hstack([other_sc, log_tok])
    both_x = np.hstack([text_x, other_sc])
    tasks = np.asarray(ds.categories)

    part = parts_by_text([texts[i] for i in evaluated], PARTS, seed)
    preds: dict[str, np.ndarray] = {}

    def put(name: str, rows: np.ndarray, values: np.ndarray) -> None:
        preds.setdefault(name, np.full(len(evaluated), np.nan))[rows] = values

    for p in range(PARTS):
        rows = np.flatnonzero(part == p)
        test_idx = evaluated[rows]
        held = {texts[i] for i in test_idx}
        train_idx = np.asarray([i for i in usable if texts[i] not in held])
        y = gap[train_idx]
        for k, v in knn_means(f.embeddings[train_idx], y, f.embeddings[test_idx], KS).items():
            put(f"knn k={k}", rows, v)
        for fam, x in (("ridge text", text_x), ("other models", other_x),
                       ("text + other models", both_x)):
            for alpha, v in ridge(x[train_idx], y, x[test_idx], ALPHAS).items():
                put(f"{fam} alpha={alpha:g}", rows, v)
        put("task", rows, task_means(tasks[train_idx], y, tasks[test_idx]))

    s_sc, w_sc = scores[evaluated, si], scores[evaluated, wi]
    lengths = np.asarray([len(texts[i]) for i in evaluated], np.float64)
    cells = {name: round(score(v, s_sc, w_sc), 4) for name, v in preds.items()}
    families: dict[str, tuple[str, float]] = {}
    for name, value in cells.items():
        fam = name.split(" k=")[0].split(" alpha=")[0]
        if fam not in families or value > families[fam][1]:
            families[fam] = (name, value)
    return {"file": f.name, "strong": strong, "weak": weak, "n": len(evaluated),
            "n_training_pool": len(usable), "tasks": len(set(tasks.tolist())),
            "length": round(score(lengths, s_sc, w_sc), 4),
            "oracle": round(score((s_sc > w_sc).astype(float), s_sc, w_sc), 4),
            "best": {fam: {"cell": c, "apgr": v} for fam, (c, v) in families.items()},
            "cells": cells}


FAMILIES = ("knn", "ridge text", "task", "other models", "text + other models")


def table(reports: list[dict[str, Any]]) -> str:
    head = "| router (fitted on the file itself) | " + " | ".join(
        r["file"] for r in reports) + " | mean |"
    lines = [head, "|---|" + "---|" * (len(reports) + 1)]

    def row(label: str, values: list[float]) -> None:
        lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in values)
                     + f" | {np.mean(values):.3f} |")

    for fam in FAMILIES:
        row(fam + " (best cell)", [r["best"][fam]["apgr"] for r in reports])
    row("`length`", [r["length"] for r in reports])
    row("`length` + 0.05 (issue 13's bar)", [r["length"] + 0.05 for r in reports])
    row("oracle", [r["oracle"] for r in reports])
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_args(ap)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write every cell here")
    args = ap.parse_args()
    paths = data_paths(args)
    if paths is None:
        return 2
    bundle = load_bundle(ensure_default_bundle(args.home), precision=args.precision)
    reports = []
    for path in paths:
        t0 = time.monotonic()
        f = load_file(path, bundle, args.home / "embeddings", args.precision)
        reports.append(ceiling(f, args.seed))
        print(f"{f.name}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(reports))
    for r in reports:
        print(f"\n{r['file']}: {r['strong']} / {r['weak']}, {r['n']} rows measured, "
              f"{r['n_training_pool']} with both scores, {r['tasks']} task labels; best cells: "
              + ", ".join(f"{v['cell']} {v['apgr']:.3f}" for v in r["best"].values()))
    if args.json is not None:
        args.json.write_text(json.dumps({"seed": args.seed, "parts": PARTS,
                                         "encoder": bundle.kind,
                                         "encoder_precision": args.precision,
                                         "files": reports}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
