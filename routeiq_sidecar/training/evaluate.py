"""``eval``: a trained bundle's strategies against random, length and the oracle on routing data.

Rows: with ``--split auto`` (default), when the data file is the one the bundle was trained on
(same sha256 and ``--limit``), the held-out test rows of that training split; any other file is
used whole. ``--split all`` uses every row, ``field``/``group``/``random`` split anew.

* Strong/weak pair (``--strong/--weak``, else the bundle's pair, else training/pairs.py's
  default): a strategy's router score is ``predicted[strong] - predicted[weak]``;
  ``metrics.pair_report`` gives APGR, CPT(50), CPT(80) for it and for random, length (longer
  prompt = likelier strong) and the oracle.
* Many models with costs (per-prompt ``cost_usd`` or ``cost_per_1M_tokens``): each strategy's
  predicted quality for every model the bundle knows goes through the decision rule's
  ``quality - lambda * normalised cost`` sweep (``metrics.multi_report``): its quality-cost
  points and AIQ, against the single models, random mixing, the oracle and a ``length``
  router (``1 - d * (1 - mean training score)``, ``d`` the length difficulty of the serving
  ``length`` strategy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.errors import invalid
from routeiq_sidecar.strategies.baselines import LENGTH_PIVOT_TOKENS
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.strategies.trained import TrainedStrategy
from routeiq_sidecar.training.cascade_eval import cascade_summary
from routeiq_sidecar.training.data import Dataset, cost_matrix, load_jsonl, score_matrix
from routeiq_sidecar.training.fit import Rows
from routeiq_sidecar.training.metrics import multi_report, pair_curve, pair_report, rounded
from routeiq_sidecar.training.pairs import default_pair
from routeiq_sidecar.training.train import (
    SERVED_STRATEGIES,
    file_sha256,
    held_out_split,
    rows_for,
)

EVAL_SPLITS = ("auto", "all", "field", "group", "random")
EVAL_ENCODERS = ("minilm", "static", "cascade")


@dataclass
class EvalOptions:
    bundle: Path
    data: Path
    strong: str | None = None
    weak: str | None = None
    strategies: tuple[str, ...] = ()  # empty: every trained strategy of the bundle
    split: str = "auto"
    seed: int | None = None
    test_fraction: float | None = None
    limit: int | None = None
    cache_dir: Path | None = None
    precision: str = "int8"  # the encoder the server runs (settings.encoder_precision)
    encoder: str = "minilm"  # whose heads and vectors: minilm, static, cascade (both)
    cascade_margins: tuple[float, ...] = (0.02,)  # cascade: escalate under these margins


def _select_rows(ds: Dataset, opts: EvalOptions, manifest: dict[str, Any]) -> tuple[Dataset, str]:
    if opts.split not in EVAL_SPLITS:
        raise invalid("split", f"unknown split {opts.split!r}; expected one of {EVAL_SPLITS}")
    training = manifest.get("training") or {}
    tsplit = training.get("split") or {}
    seed = opts.seed if opts.seed is not None else int(training.get("seed", 0))
    fraction = opts.test_fraction or float(tsplit.get("test_fraction", 0.2))
    if opts.split == "all":
        return ds, "all rows"
    if opts.split == "auto":
        sha = file_sha256(opts.data)
        # a bundle trained on several files (training/pool.py) split each file on its own
        pooled = [f for f in training.get("files") or [] if f.get("data_sha256") == sha]
        same = ((training.get("data_sha256") == sha or bool(pooled))
                and training.get("limit") == opts.limit)
        if not same:
            return ds, "all rows (not the bundle's training file)"
        method = str(pooled[0].get("split", "none") if pooled else tsplit.get("method", "none"))
        if method == "none":
            return ds, "all rows (WARNING: the bundle was trained on all of them)"
        _, test, _ = held_out_split(ds, method, seed, fraction)
        assert test is not None
        return test, f"held-out test rows of the training split ({method}, seed {seed})"
    _, test, method = held_out_split(ds, opts.split, seed, fraction)
    assert test is not None
    return test, f"test rows of a new {method} split (seed {seed})"


def _strategies(bundle: LoadedBundle, names: tuple[str, ...]) -> dict[str, TrainedStrategy]:
    trained = build_strategies(bundle).trained()
    available = {n: trained[n] for n in SERVED_STRATEGIES if n in trained}
    if not available:
        raise invalid("bundle", f"bundle {bundle.path} has no trained head (knn, mlp, mf) for "
                      f"the {bundle.kind} encoder (train it with --encoder {bundle.kind})")
    missing = [n for n in names if n not in available]
    if missing:
        raise invalid("strategy", f"bundle has no {missing} head; it has {sorted(available)}")
    return {n: available[n] for n in (names or tuple(available))}


def _predictions(strategy: TrainedStrategy, rows: Rows, models: tuple[str, ...]) -> np.ndarray:
    """``(n, len(models))`` predicted quality, NaN for models the bundle does not know."""
    cols = strategy.columns(list(models))
    pred = strategy.head.predict(rows.embeddings, rows.features)
    out = np.full((rows.embeddings.shape[0], len(models)), np.nan)
    for j, col in enumerate(cols):
        if col is not None:
            out[:, j] = pred[:, col]
    return out


def _length_difficulty(ds: Dataset, bundle: LoadedBundle) -> np.ndarray:
    from routeiq_sidecar.training.embed import select_prompts

    tokens = np.asarray([max(1, s.estimated_prompt_tokens)
                         for s in select_prompts(ds.prompts, bundle.manifest)], np.float64)
    return np.minimum(1.0, np.log(tokens) / math.log(LENGTH_PIVOT_TOKENS))


def _pair(opts: EvalOptions, bundle: LoadedBundle, ds: Dataset, preds: dict[str, np.ndarray],
          curves: dict[str, Any]) -> dict[str, Any]:
    models = ds.models
    scores = score_matrix(ds, models)
    pair = bundle.manifest.get("pair") or {}
    strong, weak = opts.strong, opts.weak
    if strong is None and weak is None and {pair.get("strong"), pair.get("weak")} <= set(models):
        strong, weak = pair["strong"], pair["weak"]
    if strong is None or weak is None:
        ds_strong, ds_weak = default_pair(models, scores, cost_matrix(ds, models))
        strong, weak = strong or ds_strong, weak or ds_weak
    for role, name in (("strong", strong), ("weak", weak)):
        if name not in models:
            raise invalid(role, f"model {name!r} is not in the data (models: {list(models)})")
    s, w = models.index(strong), models.index(weak)
    rows = np.isfinite(scores[:, s]) & np.isfinite(scores[:, w])
    lengths = np.asarray([len(p) for p in ds.prompts], np.float64)[rows]
    out: dict[str, Any] = {"strong": strong, "weak": weak, "routers": {}}
    for name, pred in preds.items():
        router = pred[rows, s] - pred[rows, w]
        if not np.all(np.isfinite(router)):
            raise invalid("strong", f"the bundle does not know {strong!r} or {weak!r}")
        rep = pair_report(router, scores[rows, s], scores[rows, w], prompt_lengths=lengths)
        out["routers"][name] = {k: rounded(rep[k]) for k in ("apgr", "cpt50", "cpt80")}
        curves[name] = pair_curve(router, scores[rows, s], scores[rows, w])
        for key in ("n", "strong_mean", "weak_mean"):
            out[key] = rep[key] if key == "n" else rounded(rep[key])
        for base in ("random", "length", "oracle"):
            out[base] = {k: (rounded(v) if isinstance(v, float) else v)
                         for k, v in rep[base].items()}
    curves["length"] = pair_curve(lengths, scores[rows, s], scores[rows, w])
    curves["oracle"] = pair_curve((scores[rows, s] > scores[rows, w]).astype(float),
                                  scores[rows, s], scores[rows, w])
    return out


def _points(points: list[tuple[float, float]]) -> list[list[float]]:
    return [[float(f"{c:.6g}"), round(q, 4)] for c, q in points]


def _multi(
    bundle: LoadedBundle, ds: Dataset, preds: dict[str, np.ndarray]
) -> dict[str, Any] | None:
    known = [j for j in range(len(ds.models))
             if all(np.isfinite(p[:, j]).all() for p in preds.values())]
    costs = cost_matrix(ds, ds.models)[:, known]
    if len(known) < 2 or not np.isfinite(costs).any():
        return None
    models = [ds.models[j] for j in known]
    scores = score_matrix(ds, ds.models)[:, known]
    rows = (np.isfinite(scores) & np.isfinite(costs)).any(axis=1)
    stats = bundle.manifest.get("model_stats") or {}
    prior = np.asarray([float(stats.get(m, {}).get("mean_score", np.nanmean(scores[:, i])))
                        for i, m in enumerate(models)])
    d = _length_difficulty(ds, bundle)[:, None]
    routers = {**{n: p[:, known] for n, p in preds.items()}, "length": 1.0 - d * (1.0 - prior)}
    out: dict[str, Any] = {"models": models, "routers": {}}
    for name, pred in routers.items():
        rep = multi_report(pred[rows], scores[rows], costs[rows], models=models)
        out["routers"][name] = {"aiq": rounded(rep["router"]["aiq"]),
                                "best_score": rounded(rep["router"]["best_score"]),
                                "points": _points(rep["router"]["points"])}
        out.update({
            "n": rep["n"], "cost_range": list(rep["cost_range"]),
            "best_single": rep["best_single"], "cheapest": rep["cheapest"],
            "single_models": rep["single_models"],
            "random": {"aiq": rounded(rep["random"]["aiq"]), "hull": rep["random"]["hull"],
                       "uniform": rep["random"]["uniform"]},
            "oracle": {"aiq": rounded(rep["oracle"]["aiq"]), "cost": rep["oracle"]["cost"],
                       "score": rep["oracle"]["score"],
                       "points": _points(rep["oracle"]["points"])},
        })
    return out


def _cascade(opts: EvalOptions, minilm: LoadedBundle, ds: Dataset,
             static_preds: dict[str, np.ndarray], pair: dict[str, Any]) -> dict[str, Any]:
    """Per strategy with heads on both encoders: the static and MiniLM routers alone and the
    cascade of the two at each margin (training/cascade_eval.py). The report's ``pair`` and
    ``multi`` sections are the static tier's."""
    names = tuple(n for n in static_preds if n in build_strategies(minilm).trained())
    strategies = _strategies(minilm, names)
    rows = rows_for(minilm, ds, ds.models, opts.cache_dir, "embedding minilm (eval)",
                    opts.precision)
    scores = score_matrix(ds, ds.models)
    s, w = ds.models.index(pair["strong"]), ds.models.index(pair["weak"])
    keep = np.isfinite(scores[:, s]) & np.isfinite(scores[:, w])
    out: dict[str, Any] = {"margins": list(opts.cascade_margins), "strategies": {}}
    for name, strategy in strategies.items():
        pm = _predictions(strategy, rows, ds.models)
        static_r = static_preds[name][keep, s] - static_preds[name][keep, w]
        minilm_r = pm[keep, s] - pm[keep, w]
        entry: dict[str, Any] = {
            "static": pair["routers"][name],
            "minilm": {k: rounded(v) for k, v in pair_report(
                minilm_r, scores[keep, s], scores[keep, w]).items()
                if k in ("apgr", "cpt50", "cpt80")},
        }
        for m in opts.cascade_margins:
            summary = cascade_summary(static_r, minilm_r, scores[keep, s], scores[keep, w], m)
            entry[f"cascade@{m:g}"] = {k: rounded(v) for k, v in summary.items()}
        out["strategies"][name] = entry
    return out


def evaluate(opts: EvalOptions, *, bundle: LoadedBundle | None = None
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(report, curves)``: the JSON report and the pair curves (for ``--plot``)."""
    if opts.encoder not in EVAL_ENCODERS:
        raise invalid("encoder", f"unknown encoder {opts.encoder!r}; expected one of "
                      f"{EVAL_ENCODERS}")
    data = load_jsonl(opts.data, limit=opts.limit)  # bad data fails before the heavier load
    bundle = bundle or load_bundle(opts.bundle, precision=opts.precision, encoder=opts.encoder)
    strategies = _strategies(bundle, opts.strategies)
    ds, used = _select_rows(data, opts, bundle.manifest)
    rows = rows_for(bundle, ds, ds.models, opts.cache_dir, "embedding (eval)", opts.precision)
    trained_with = (bundle.manifest.get("training") or {}).get("encoder_precision")
    preds = {n: _predictions(s, rows, ds.models) for n, s in strategies.items()}
    curves: dict[str, Any] = {}
    report: dict[str, Any] = {
        "bundle": {"name": bundle.name, "version": bundle.version,
                   "default_strategy": bundle.default_strategy},
        "data": Path(opts.data).name,
        "rows": len(ds),
        "split": used,
        "strategies": list(strategies),
        "encoder": opts.encoder,
        "encoder_precision": opts.precision,
    }
    if trained_with and trained_with != opts.precision and bundle.kind == "minilm":
        report["warning"] = (f"heads trained on {trained_with} embeddings, evaluated on "
                             f"{opts.precision} ones (the server runs encoder_precision)")
    if len(ds.models) >= 2:
        report["pair"] = _pair(opts, bundle, ds, preds, curves)
        main = bundle.default_strategy if bundle.default_strategy in preds else next(iter(preds))
        report.update({"strategy": main, **report["pair"]["routers"][main]})
        if bundle.escalation is not None:
            report["cascade"] = _cascade(opts, bundle.escalation, ds, preds, report["pair"])
    multi = _multi(bundle, ds, preds)
    if multi is not None:
        report["multi"] = multi
    return report, curves
