"""``train``: routing data -> a verified bundle with trained heads that ``serve --bundle`` loads.

1. Load the data file (line-numbered errors), hold out its test rows (``--split``; ``none``
   trains on everything), and split the training rows again into fit / validation rows
   (whole categories when the held-out split is by category, else at random).
2. Embed the training prompts with the base bundle's encoder, exactly as the server does
   (training/embed.py; cached under ``<home>/embeddings``), plus the structural features. The
   encoder precision is the serving setting's (``encoder_precision``, int8 by default), so the
   heads learn from the vectors the server will feed them; the manifest records it.
3. Fit every requested head (training/fit.py), pick the default strategy by validation score.
4. Write the new bundle: the base bundle's encoder, tokenizer and centroid head, the head files,
   and a manifest (models, aliases, per-model stats, default pair, training data digest, seed,
   split) via ``bundle.manifest.write_manifest``; verify it, then move it into place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar import __version__
from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.errors import invalid
from routeiq_sidecar.strategies.features import feature_matrix, varying_features
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.training.data import (
    Dataset,
    cost_matrix,
    load_jsonl,
    resolve_split,
    score_matrix,
    split_dataset,
)
from routeiq_sidecar.training.embed import embed_cached, select_prompts
from routeiq_sidecar.training.fit import Fitted, Rows, fit_ensemble, fit_knn, fit_net
from routeiq_sidecar.training.onnx_export import write_head
from routeiq_sidecar.training.pairs import default_pair

TRAINED_STRATEGIES = ("knn", "mlp", "mf")
SERVED_STRATEGIES = (*TRAINED_STRATEGIES, "ensemble")  # ensemble: added with >= 2 heads
SPLIT_CHOICES = ("auto", "field", "group", "random", "none")
VALIDATION_FRACTION = 0.15
HEAD_FILES = {"knn": "knn.npz", "mlp": "mlp.onnx", "mf": "mf.onnx"}


@dataclass
class TrainOptions:
    data: Path
    out: Path
    base_bundle: Path
    strategies: tuple[str, ...] = TRAINED_STRATEGIES
    split: str = "auto"
    test_fraction: float = 0.2
    seed: int = 0
    aliases: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    cache_dir: Path | None = None
    name: str = ""
    precision: str = "int8"  # the encoder the server runs (settings.encoder_precision)


def file_sha256(path: Path) -> str:
    return mf.sha256_file(Path(path))


def held_out_split(
    ds: Dataset, how: str, seed: int, test_fraction: float
) -> tuple[Dataset, Dataset | None, str]:
    """``(train, test or None, method)``; ``how`` is a SPLIT_CHOICES value."""
    if how not in SPLIT_CHOICES:
        raise invalid("split", f"unknown split {how!r}; expected one of {SPLIT_CHOICES}")
    if how == "none":
        return ds, None, "none"
    method = resolve_split(ds, how)
    train, test = split_dataset(ds, method, seed=seed, test_fraction=test_fraction)
    return train, test, method


def rows_for(bundle: LoadedBundle, ds: Dataset, models: tuple[str, ...], cache: Path | None,
             desc: str, precision: str) -> Rows:
    """``bundle`` must have been loaded with ``precision`` (it names the cache entry)."""
    sels = select_prompts(ds.prompts, bundle.manifest)
    emb = embed_cached(bundle.encoder, [s.text for s in sels], manifest=bundle.manifest,
                       cache_dir=cache, desc=desc, precision=precision)
    return Rows(emb, feature_matrix(sels), score_matrix(ds, models))


def _validation_split(train: Dataset, method: str, seed: int) -> tuple[Dataset, Dataset, str]:
    inner = "group" if method == "group" and len(set(train.categories)) >= 4 else "random"
    fit_part, val_part = split_dataset(
        train, inner, seed=seed + 1, test_fraction=VALIDATION_FRACTION
    )
    return fit_part, val_part, inner


def _model_stats(ds: Dataset, models: tuple[str, ...]) -> dict[str, dict[str, float]]:
    sc, co = score_matrix(ds, models), cost_matrix(ds, models)
    out: dict[str, dict[str, float]] = {}
    for j, m in enumerate(models):
        s = sc[np.isfinite(sc[:, j]), j]
        c = co[np.isfinite(co[:, j]), j]
        out[m] = {"mean_score": round(float(s.mean()), 6) if s.size else 0.5, "n": int(s.size)}
        if c.size:
            out[m]["mean_cost_usd"] = float(c.mean())
    return out


def _copy_base(base: LoadedBundle, dest: Path) -> dict[str, Any]:
    """Copy the encoder, tokenizer and centroid files; return the base's centroid head entry."""
    heads = base.manifest.get("heads") or {}
    skip = {str(h.get("file")) for n, h in heads.items() if n != "centroid" and isinstance(h, dict)}
    for rel in base.manifest["files"]:
        if rel in skip:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base.path / rel, target)
    return dict(heads["centroid"])


def _write_head(fitted: Fitted, folder: Path) -> dict[str, Any]:
    score = {"validation_mean_pair_apgr": round(fitted.validation, 6)}
    if fitted.name == "ensemble":
        return {**fitted.params, **score}
    file = HEAD_FILES[fitted.name]
    if fitted.name == "knn":
        fitted.head.save(folder / file)  # type: ignore[union-attr]
    else:
        write_head(fitted.head, folder / file, f"routeiq-{fitted.name}")  # type: ignore[arg-type]
    return {"file": file, **fitted.params, **score}


def train_bundle(opts: TrainOptions, *, base: LoadedBundle | None = None) -> dict[str, Any]:
    """Train and write the bundle at ``opts.out``; returns the manifest plus a ``report``."""
    unknown = [s for s in opts.strategies if s not in TRAINED_STRATEGIES]
    if unknown or not opts.strategies:
        raise invalid("strategy", f"unknown strategies {unknown}; trainable: {TRAINED_STRATEGIES}")
    ds = load_jsonl(opts.data, limit=opts.limit)
    models = ds.models
    ModelIndex(models, opts.aliases)  # aliases must point at trained models
    train, test, method = held_out_split(ds, opts.split, opts.seed, opts.test_fraction)
    fit_ds, val_ds, inner = _validation_split(train, method, opts.seed)
    base = base or load_bundle(opts.base_bundle, precision=opts.precision)
    fit_rows = rows_for(base, fit_ds, models, opts.cache_dir, "embedding (fit)", opts.precision)
    val_rows = rows_for(base, val_ds, models, opts.cache_dir, "embedding (validation)",
                        opts.precision)
    features = varying_features(np.concatenate([fit_rows.features, val_rows.features]))

    fitted: list[Fitted] = []
    for name in opts.strategies:
        if name == "knn":
            fitted.append(fit_knn(models, fit_rows, val_rows))
        else:
            fitted.append(fit_net(name, fit_rows, val_rows, features, opts.seed))
    combined = fit_ensemble(fitted, val_rows) if len(fitted) >= 2 else None
    if combined is not None:
        fitted.append(combined)
    ranked = sorted(fitted, key=lambda f: -np.nan_to_num(f.validation, nan=-1.0))

    out = Path(opts.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".train-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; a bundle is read by the serving user
    try:
        centroid = _copy_base(base, tmp)
        heads: dict[str, Any] = {"centroid": centroid}
        for f in fitted:
            heads[f.name] = {**_write_head(f, tmp), "models": list(models)}
        strong, weak = default_pair(models, score_matrix(train, models), cost_matrix(train, models))
        meta = {
            "name": opts.name or f"routeiq-trained-{Path(opts.data).stem}",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "builder": f"routeiq-sidecar {__version__}",
            "encoder": base.manifest["encoder"],
            "default_strategy": ranked[0].name,
            "heads": heads,
            "models": list(models),
            "aliases": dict(opts.aliases),
            "model_stats": _model_stats(train, models),
            "pair": {"strong": strong, "weak": weak},
            "training": {
                "data": Path(opts.data).name,
                "data_sha256": file_sha256(opts.data),
                "rows": len(ds),
                "limit": opts.limit,
                "seed": opts.seed,
                "encoder_precision": opts.precision,
                "split": {"method": method, "requested": opts.split,
                          "test_fraction": opts.test_fraction,
                          "n_train": len(train), "n_test": len(test) if test else 0},
                "validation": {"method": inner, "n_fit": len(fit_ds), "n_validation": len(val_ds),
                               "metric": "mean pairwise APGR",
                               "scores": {f.name: round(f.validation, 6) for f in fitted}},
                "base_bundle": {"name": base.name, "version": base.version},
                "train_ids_sha256": hashlib.sha256(
                    "\n".join(ex.id for ex in train).encode()).hexdigest(),
            },
        }
        manifest = mf.write_manifest(tmp, meta)
        mf.verify(tmp)
        build_strategies(load_bundle(tmp))  # the heads load and match the encoder
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    manifest["report"] = {f.name: {"validation_mean_pair_apgr": f.validation, **f.params}
                          for f in fitted}
    return manifest
