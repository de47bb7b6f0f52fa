"""Leave one file out: train the `difficulty` head on every other outcome file, measure it on
the one left out (its test rows when it has a ``split`` column, else all rows).

For the left-out file's strong/weak pair (training/pairs.py's default pair) each router's
score is its difficulty (the `difficulty` strategy's quality gap is ``d * (ability_strong -
ability_weak)``, which ranks prompts as ``d`` does whenever the strong model's descriptor is
the higher one); reported with APGR, CPT(50), CPT(80) against ``random``, ``length`` and the
oracle, plus ``knn`` (the head's kNN part alone, ``blend`` 1) and ``centroid`` (the old
zero-config default's complexity score). The same code backs ``bench/transfer.py`` and
``routeiq-sidecar eval --leave-one-out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.progress import progress
from routeiq_sidecar.training.data import Dataset, cost_matrix, load_jsonl, score_matrix
from routeiq_sidecar.training.difficulty import DEFAULTS, FilePart, fit_difficulty
from routeiq_sidecar.training.embed import embed_cached, select_prompts
from routeiq_sidecar.training.metrics import pair_curve, pair_report
from routeiq_sidecar.training.pairs import default_pair
from routeiq_sidecar.training.train import held_out_split

ROUTERS = ("difficulty", "knn", "centroid")


@dataclass
class Loaded:
    name: str
    ds: Dataset
    embeddings: np.ndarray
    tokens: np.ndarray
    test: np.ndarray  # bool mask of the evaluated rows


def load_file(path: Path, bundle: LoadedBundle, cache: Path | None, precision: str,
              limit: int | None = None) -> Loaded:
    ds = load_jsonl(path, limit=limit)
    sels = select_prompts(ds.prompts, bundle.manifest)
    emb = embed_cached(bundle.encoder, [s.text for s in sels], manifest=bundle.manifest,
                       cache_dir=cache, desc=f"embedding {Path(path).stem}", precision=precision,
                       kind=bundle.kind)
    tokens = np.asarray([max(1, s.estimated_prompt_tokens) for s in sels], np.float64)
    test = np.ones(len(ds), bool)
    if all(ex.split is not None for ex in ds.examples):
        _, held, _ = held_out_split(ds, "field", 0, 0.2)
        ids = {ex.id for ex in held or ()}
        test = np.asarray([ex.id in ids for ex in ds.examples])
    return Loaded(Path(path).stem, ds, emb, tokens, test)


def part(f: Loaded) -> FilePart:
    return FilePart(f.name, f.embeddings, f.tokens, score_matrix(f.ds, f.ds.models), f.ds.models)


def _r(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


def fold(left: Loaded, others: Sequence[Loaded], bundle: LoadedBundle, seed: int = 0,
         params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(report, curves)`` of one fold."""
    p = {**DEFAULTS, **(params or {})}
    head = fit_difficulty([part(o) for o in others], seed=seed, **p)
    ds = left.ds
    scores, costs = score_matrix(ds, ds.models), cost_matrix(ds, ds.models)
    strong, weak = default_pair(ds.models, scores[left.test], costs[left.test])
    s, w = ds.models.index(strong), ds.models.index(weak)
    rows = left.test & np.isfinite(scores[:, s]) & np.isfinite(scores[:, w])
    emb, tok = left.embeddings[rows], left.tokens[rows]
    routers = {
        "difficulty": head.difficulty(emb, tok),
        "knn": replace(head, blend=1.0).difficulty(emb, tok),
        "centroid": np.asarray([bundle.classifier.classify(v, int(t)).complexity_score
                                for v, t in zip(emb, tok, strict=True)]),
    }
    lengths = np.asarray([len(p) for p in ds.prompts], np.float64)[rows]
    out: dict[str, Any] = {"file": left.name, "trained_on": [o.name for o in others],
                           "strong": strong, "weak": weak, "n": int(rows.sum()),
                           "params": p, "routers": {}}
    curves: dict[str, Any] = {}
    for name, r in routers.items():
        rep = pair_report(r, scores[rows, s], scores[rows, w], prompt_lengths=lengths)
        out["routers"][name] = {k: _r(rep[k]) for k in ("apgr", "cpt50", "cpt80")}
        curves[name] = pair_curve(r, scores[rows, s], scores[rows, w])
        for base in ("random", "length", "oracle"):
            out[base] = {k: _r(rep[base][k]) for k in ("apgr", "cpt50", "cpt80")}
    curves["length"] = pair_curve(lengths, scores[rows, s], scores[rows, w])
    curves["oracle"] = pair_curve((scores[rows, s] > scores[rows, w]).astype(float),
                                  scores[rows, s], scores[rows, w])
    return out, curves


def leave_one_out(paths: Sequence[Path], bundle: LoadedBundle, *, cache: Path | None,
                  precision: str, seed: int = 0, params: dict[str, Any] | None = None,
                  limit: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    files = [load_file(p, bundle, cache, precision, limit) for p in paths]
    folds: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    for left in progress(files, desc="leave-one-file-out folds", unit="fold"):
        rep, cur = fold(left, [f for f in files if f is not left], bundle, seed, params)
        folds.append(rep)
        curves[left.name] = cur
    summary: dict[str, Any] = {}
    for name in (*ROUTERS, "length", "random", "oracle"):
        vals = [f["routers"][name]["apgr"] if name in ROUTERS else f[name]["apgr"]
                for f in folds]
        summary[name] = _r(float(np.mean([v for v in vals if v is not None])))
    margins = [f["routers"]["difficulty"]["apgr"] - f["length"]["apgr"] for f in folds]
    return {"folds": folds, "mean_apgr": summary,
            "difficulty_minus_length": [_r(m) for m in margins],
            "encoder": bundle.kind, "encoder_precision": precision, "seed": seed}, curves
