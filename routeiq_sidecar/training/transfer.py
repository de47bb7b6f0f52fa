"""Leave one file out: fit every router on the other outcome files, measure it on the one left
out (its test rows when it has a ``split`` column, else all rows).

For the left-out file's strong/weak pair (training/pairs.py's default pair) each router
(training/transfer_routers.py: the shipped `difficulty` head and its kNN part, `centroid`, the
heads ``train`` fits, the eval-only baselines) is served the pair as candidates, as a user would
send them (training/transfer_served.py): with a declared quality prior saying which is the
stronger (the headline APGR, CPT(50), CPT(80)), and with the file's prices only (APGR, and AIQ
where the file has costs). Against the rules ``random``, ``length`` (the longer prompt goes to
the strong model) and the oracle. The same code backs ``bench/transfer.py`` and
``routeiq-sidecar eval --leave-one-out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.progress import progress
from routeiq_sidecar.strategies.baselines import LENGTH_PIVOT_TOKENS
from routeiq_sidecar.strategies.features import feature_matrix
from routeiq_sidecar.training.data import Dataset, cost_matrix, load_jsonl, score_matrix
from routeiq_sidecar.training.difficulty import FilePart, defaults
from routeiq_sidecar.training.embed import embed_cached, select_prompts
from routeiq_sidecar.training.metrics import pair_curve, pair_report, rounded
from routeiq_sidecar.training.pairs import default_pair
from routeiq_sidecar.training.train import held_out_split
from routeiq_sidecar.training.transfer_features import feature_table
from routeiq_sidecar.training.transfer_routers import (
    ROUTERS,
    Prompts,
    Routers,
    fit_routers,
    route,
)
from routeiq_sidecar.training.transfer_served import (
    SETTINGS,
    pair_aiq,
    pair_candidates,
    pair_figures,
    priors,
    served_difficulty,
)

RULES = ("length", "random", "oracle")


@dataclass
class Loaded:
    name: str
    path: Path
    ds: Dataset
    embeddings: np.ndarray
    tokens: np.ndarray
    features: np.ndarray  # strategies/features.py (the trained heads' inputs)
    structural: np.ndarray  # training/transfer_features.py
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
    return Loaded(Path(path).stem, Path(path), ds, emb, tokens, feature_matrix(sels),
                  feature_table(ds.prompts, tokens), test)


def part(f: Loaded) -> FilePart:
    return FilePart(f.name, f.embeddings, f.tokens, score_matrix(f.ds, f.ds.models), f.ds.models)


def chosen_model(ds: Dataset, model: str, role: str) -> str:
    """``model`` as the file names it; a ValueError naming the file's models otherwise."""
    if model not in ds.models:
        raise ValueError(f"--{role} {model!r} is not a model of {ds.path or 'the data'} "
                         f"(its models: {', '.join(ds.models)})")
    return model


def _prompts(left: Loaded, rows: np.ndarray, bundle: LoadedBundle) -> Prompts:
    emb, tok = left.embeddings[rows], left.tokens[rows]
    centroid = np.asarray([bundle.classifier.classify(v, int(t)).complexity_score
                           for v, t in zip(emb, tok, strict=True)])
    return Prompts(emb, tok, left.features[rows], left.structural[rows], centroid)


def fold(left: Loaded, others: Sequence[Loaded], bundle: LoadedBundle, seed: int = 0,
         params: dict[str, Any] | None = None, *, cache: Path | None = None,
         precision: str = "int8", limit: int | None = None,
         full: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(report, curves)`` of one fold (``full`` False: the difficulty routers only)."""
    p = {**defaults(bundle.kind), **(params or {})}
    routers = fit_routers([part(o) for o in others], [o.structural for o in others],
                          [o.path for o in others], bundle, cache=cache, precision=precision,
                          seed=seed, params=p, limit=limit, full=full)
    rep, curves = measure(left, routers, bundle)
    return {"file": rep.pop("file"), "trained_on": [o.name for o in others], **rep,
            "params": p}, curves


def measure(left: Loaded, routers: Routers, bundle: LoadedBundle,
            pair: tuple[str | None, str | None] = (None, None),
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(report, curves)``: every router of ``routers`` served the left-out file's pair
    (training/pairs.py's default pair, or the models ``pair`` names) in each candidate
    setting, against the rules."""
    ds = left.ds
    scores, costs = score_matrix(ds, ds.models), cost_matrix(ds, ds.models)
    strong, weak = default_pair(ds.models, scores[left.test], costs[left.test])
    if pair[0]:
        strong = chosen_model(ds, pair[0], "strong")
    if pair[1]:
        weak = chosen_model(ds, pair[1], "weak")
    if strong == weak:
        raise ValueError(f"--strong and --weak are the same model ({strong})")
    s, w = ds.models.index(strong), ds.models.index(weak)
    rows = left.test & np.isfinite(scores[:, s]) & np.isfinite(scores[:, w])
    prompts = _prompts(left, rows, bundle)
    s_sc, w_sc = scores[rows, s], scores[rows, w]
    pair_costs = costs[rows][:, [s, w]]
    priced = np.isfinite(pair_costs).all(axis=1)
    lengths = np.asarray([len(t) for t in ds.prompts], np.float64)[rows]
    rep = pair_report(lengths, s_sc, w_sc, prompt_lengths=lengths)
    out: dict[str, Any] = {"file": left.name, "strong": strong, "weak": weak,
                           "n": int(rows.sum()), "n_priced": int(priced.sum()), "routers": {}}
    for base in RULES:
        out[base] = {k: rounded(rep[base][k]) for k in ("apgr", "cpt50", "cpt80")}
    curves: dict[str, Any] = {}
    for setting in SETTINGS:
        cands = pair_candidates([strong, weak], pair_costs, prompts.tokens, setting)
        for name, q in route(routers, prompts, cands).items():
            entry = out["routers"].setdefault(name, {})
            figures = pair_figures(q, s_sc, w_sc)
            if setting == "declared":
                entry.update(figures)
                curves[name] = pair_curve(q[:, 0] - q[:, 1], s_sc, w_sc)
                continue
            entry[setting] = {"apgr": figures["apgr"], "constant": figures["constant"]}
            if setting == "prices" and priced.any():
                a = pair_aiq(q[priced], np.stack([s_sc, w_sc], 1)[priced], pair_costs[priced])
                entry["aiq"] = a["router"]
                out["random"]["aiq"], out["oracle"]["aiq"] = a["random"], a["oracle"]
        if setting == "prices" and priced.any():
            d = np.minimum(1.0, np.log(prompts.tokens) / np.log(LENGTH_PIVOT_TOKENS))
            q = served_difficulty(d, priors(cands))  # the `length` strategy as served
            out["length"]["aiq"] = pair_aiq(q[priced], np.stack([s_sc, w_sc], 1)[priced],
                                            pair_costs[priced])["router"]
    curves["length"] = pair_curve(lengths, s_sc, w_sc)
    curves["oracle"] = pair_curve((s_sc > w_sc).astype(float), s_sc, w_sc)
    return out, curves


def mean_of(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return rounded(float(np.mean(kept))) if kept else None


def mean_apgr(reports: Sequence[dict[str, Any]],
              setting: str | None = None) -> dict[str, float | None]:
    """Mean APGR over ``reports`` (folds or files) of every router they all have; with
    ``setting`` None the declared figures and the rules', else that setting's."""
    names = [n for n in ROUTERS if all(n in f["routers"] for f in reports)]
    if setting is not None:
        return {n: mean_of([f["routers"][n][setting]["apgr"] for f in reports]) for n in names}
    mean = {n: mean_of([f["routers"][n]["apgr"] for f in reports]) for n in names}
    mean.update({n: mean_of([f[n]["apgr"] for f in reports]) for n in RULES})
    return mean


def margins(reports: Sequence[dict[str, Any]]) -> list[float | None]:
    """`difficulty` minus `length`, APGR, per fold or file."""
    return [rounded((f["routers"]["difficulty"]["apgr"] or np.nan)
                    - (f["length"]["apgr"] or np.nan)) for f in reports]


def summary(folds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean APGR over folds per router (declared, prices and names settings), the best router
    per fold, and the shipped default's margin over `length`."""
    names = [n for n in ROUTERS if all(n in f["routers"] for f in folds)]
    best = {f["file"]: max(names, key=lambda n: f["routers"][n]["apgr"] or 0.0)
            for f in folds}
    return {"mean_apgr": mean_apgr(folds), "mean_apgr_prices": mean_apgr(folds, "prices"),
            "mean_apgr_names": mean_apgr(folds, "names"), "best_router": best,
            "difficulty_minus_length": margins(folds)}


def leave_one_out(paths: Sequence[Path], bundle: LoadedBundle, *, cache: Path | None,
                  precision: str, seed: int = 0, params: dict[str, Any] | None = None,
                  limit: int | None = None,
                  full: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every fold's report and curves, the summary (``full`` False: the difficulty routers
    only)."""
    files = [load_file(p, bundle, cache, precision, limit) for p in paths]
    folds: list[dict[str, Any]] = []
    curves: dict[str, Any] = {}
    for left in progress(files, desc="leave-one-file-out folds", unit="fold"):
        rep, cur = fold(left, [f for f in files if f is not left], bundle, seed, params,
                        cache=cache, precision=precision, limit=limit, full=full)
        folds.append(rep)
        curves[left.name] = cur
    return {"folds": folds, **summary(folds), "settings": list(SETTINGS),
            "encoder": bundle.kind, "encoder_precision": precision, "seed": seed}, curves
