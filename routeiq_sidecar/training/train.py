"""``train``: routing data -> a verified bundle with trained heads that ``serve --bundle`` loads.

1. Load the data file (line-numbered errors), hold out its test rows (``--split``; ``none``
   trains on everything), and split the training rows again into fit / validation rows
   (whole categories when the held-out split is by category, else at random).
2. Embed the training prompts with the base bundle's encoder, exactly as the server does
   (training/embed.py; cached under ``<home>/embeddings``), plus the structural features. The
   encoder precision is the serving setting's (``encoder_precision``, int8 by default), so the
   heads learn from the vectors the server will feed them; the manifest records it. The
   encoder kind (``--encoder``) picks whose vectors: ``minilm``, ``static`` (the distilled
   matrix), or ``cascade`` (a set of heads for each, as the cascade serves both).
3. Fit every requested head (training/fit.py), pick the default strategy by validation score.
4. Write the new bundle: the base bundle's encoders, tokenizer and centroid heads, the head files
   (MiniLM heads in ``manifest["heads"]``, static ones in ``manifest["static"]["heads"]``),
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
from routeiq_sidecar.progress import stage
from routeiq_sidecar.strategies.difficulty import HEAD_FILE as DIFFICULTY_FILE
from routeiq_sidecar.strategies.features import feature_matrix, varying_features
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.registry import with_escalation
from routeiq_sidecar.training.data import Dataset, cost_matrix, score_matrix
from routeiq_sidecar.training.difficulty import (
    FilePart,
    difficulty_params,
    fit_difficulty,
    gate_params,
)
from routeiq_sidecar.training.embed import embed_cached, select_prompts
from routeiq_sidecar.training.fit import Fitted, Rows, fit_ensemble, fit_knn, fit_net
from routeiq_sidecar.training.onnx_export import write_head
from routeiq_sidecar.training.pairs import default_pair
from routeiq_sidecar.training.pool import load_sources, pooled, provenance, split_each
from routeiq_sidecar.training.splits import resolve_split, split_dataset

TRAINED_STRATEGIES = ("knn", "mlp", "mf")
TRANSFER_STRATEGIES = ("difficulty",)  # one head for any model list (training/difficulty.py)
TRAINABLE = (*TRAINED_STRATEGIES, *TRANSFER_STRATEGIES)
SERVED_STRATEGIES = (*TRAINED_STRATEGIES, "ensemble")  # ensemble: added with >= 2 heads
SPLIT_CHOICES = ("auto", "field", "group", "random", "none")
VALIDATION_FRACTION = 0.15
HEAD_FILES = {"knn": "knn.npz", "mlp": "mlp.onnx", "mf": "mf.onnx"}
FILE_PREFIX = {"minilm": "", "static": "static."}  # static heads: static.knn.npz, ...


@dataclass
class TrainOptions:
    data: Path | tuple[Path, ...]  # one file or several, pooled (training/pool.py)
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
    encoder: str = "minilm"  # minilm | static | cascade (settings.encoder)


def data_paths(data: Path | tuple[Path, ...]) -> tuple[Path, ...]:
    return (Path(data),) if isinstance(data, str | Path) else tuple(Path(p) for p in data)


def file_part(bundle: LoadedBundle, ds: Dataset, opts: TrainOptions) -> FilePart:
    """One file's training rows for the difficulty head (its own model list and scores)."""
    sels = select_prompts(ds.prompts, bundle.manifest)
    emb = embed_cached(bundle.encoder, [s.text for s in sels], manifest=bundle.manifest,
                       cache_dir=opts.cache_dir, desc=f"embedding {Path(ds.path or '').stem}",
                       precision=opts.precision, kind=bundle.kind)
    tokens = np.asarray([max(1, s.estimated_prompt_tokens) for s in sels], np.float64)
    return FilePart(Path(ds.path or "").stem, emb, tokens, score_matrix(ds, ds.models), ds.models)


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
                       cache_dir=cache, desc=desc, precision=precision, kind=bundle.kind)
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


def views(bundle: LoadedBundle) -> dict[str, LoadedBundle]:
    """The loaded encoder views by kind (a cascade load holds both)."""
    out = {bundle.kind: bundle}
    if bundle.escalation is not None:
        out[bundle.escalation.kind] = bundle.escalation
    return out


def serving_encoder(enc: dict[str, Any], precision: str) -> dict[str, Any]:
    """The base's encoder entry less the ONNX file of the other precision: a trained bundle
    ships only the encoder its heads were fitted on (the int8 file is 23 MB, fp32 90 MB)."""
    drop = "encoder" if precision == "int8" else "encoder_int8"
    return {k: v for k, v in enc.items() if k != drop}


def _copy_base(base: LoadedBundle, dest: Path, precision: str
               ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Copy the serving precision's encoder, the tokenizer, the static matrix and the centroid
    and category files; return the base's MiniLM signal heads (centroid, category if any) and
    its static entry (description + those heads only), if it has one."""
    heads = base.manifest.get("heads") or {}
    static = base.manifest.get("static")
    static_heads = (static.get("heads") or {}) if isinstance(static, dict) else {}
    kept = ("centroid", "category")  # the signals' heads: a trained bundle keeps the base's
    skip = {str(h.get("file")) for table in (heads, static_heads) for n, h in table.items()
            if n not in kept and isinstance(h, dict)}
    enc = base.manifest["encoder"]
    skip |= {str(enc[k]) for k in ("encoder", "encoder_int8")
             if k in enc and k not in serving_encoder(enc, precision)}
    for rel in base.manifest["files"]:
        if rel in skip:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base.path / rel, target)
    signal_heads = {n: dict(heads[n]) for n in kept if isinstance(heads.get(n), dict)}
    if not isinstance(static, dict):
        return signal_heads, None
    static_entry = {**static, "default_strategy": "centroid",
                    "heads": {n: dict(static_heads[n]) for n in kept
                              if isinstance(static_heads.get(n), dict)}}
    return signal_heads, static_entry


def _write_head(fitted: Fitted, folder: Path, kind: str) -> dict[str, Any]:
    score = {"validation_mean_pair_apgr": round(fitted.validation, 6)}
    if fitted.name == "ensemble":
        return {**fitted.params, **score}
    file = FILE_PREFIX[kind] + HEAD_FILES[fitted.name]
    if fitted.name == "knn":
        fitted.head.save(folder / file)  # type: ignore[union-attr]
    else:
        write_head(fitted.head, folder / file, f"routeiq-{fitted.name}")  # type: ignore[arg-type]
    return {"file": file, **fitted.params, **score}


ENCODER_KINDS = ("minilm", "static", "cascade")


def trained_kinds(encoder: str) -> tuple[str, ...]:
    """Encoders to fit heads for; the first is the one that answers first when serving."""
    if encoder not in ENCODER_KINDS:
        raise invalid("encoder", f"unknown encoder {encoder!r}; expected one of {ENCODER_KINDS}")
    return ("static", "minilm") if encoder == "cascade" else (encoder,)


def _fit_heads(view: LoadedBundle, opts: TrainOptions, models: tuple[str, ...],
               fit_ds: Dataset, val_ds: Dataset) -> list[Fitted]:
    """Every requested head (and the ensemble of two or more), best validation score first."""
    if not any(n in TRAINED_STRATEGIES for n in opts.strategies):
        return []
    label = "" if view.kind == "minilm" else f" {view.kind}"
    fit_rows = rows_for(view, fit_ds, models, opts.cache_dir, f"embedding{label} (fit)",
                        opts.precision)
    val_rows = rows_for(view, val_ds, models, opts.cache_dir, f"embedding{label} (validation)",
                        opts.precision)
    features = varying_features(np.concatenate([fit_rows.features, val_rows.features]))
    fitted: list[Fitted] = []
    for name in [n for n in opts.strategies if n in TRAINED_STRATEGIES]:
        with stage(f"fit {name}{label} ({len(fit_ds)} rows)"):
            if name == "knn":
                fitted.append(fit_knn(models, fit_rows, val_rows))
            else:
                fitted.append(fit_net(name, fit_rows, val_rows, features, opts.seed))
    combined = fit_ensemble(fitted, val_rows) if len(fitted) >= 2 else None
    if combined is not None:
        fitted.append(combined)
    return sorted(fitted, key=lambda f: -np.nan_to_num(f.validation, nan=-1.0))


def _base_views(opts: TrainOptions, base: LoadedBundle | None,
                kinds: tuple[str, ...]) -> dict[str, LoadedBundle]:
    loaded = views(base) if base is not None else {}
    for kind in kinds:
        if kind not in loaded:
            loaded[kind] = load_bundle(opts.base_bundle, precision=opts.precision, encoder=kind)
    return loaded


def train_bundle(opts: TrainOptions, *, base: LoadedBundle | None = None) -> dict[str, Any]:
    """Train and write the bundle at ``opts.out``; returns the manifest plus a ``report`` (the
    heads of the encoder that answers first) and ``report_by_encoder``."""
    unknown = [s for s in opts.strategies if s not in TRAINABLE]
    if unknown or not opts.strategies:
        raise invalid("strategy", f"unknown strategies {unknown}; trainable: {TRAINABLE}")
    kinds = trained_kinds(opts.encoder)
    paths = data_paths(opts.data)
    sources = load_sources(paths, limit=opts.limit)
    if opts.split not in SPLIT_CHOICES:
        raise invalid("split", f"unknown split {opts.split!r}; expected one of {SPLIT_CHOICES}")
    trains, tests, methods = split_each(sources, opts.split, opts.seed, opts.test_fraction)
    ds = pooled([s.dataset for s in sources])
    models = ds.models
    ModelIndex(models, opts.aliases)  # aliases must point at trained models
    train = pooled(trains)
    test_parts = [t for t in tests if t is not None]
    test = pooled(test_parts) if test_parts else None
    method = methods[0] if len(set(methods)) == 1 else "per-file"
    fit_ds, val_ds, inner = _validation_split(train, method, opts.seed)
    loaded = _base_views(opts, base, kinds)
    first = loaded[kinds[0]]
    fitted = {kind: _fit_heads(loaded[kind], opts, models, fit_ds, val_ds) for kind in kinds}
    difficulty = ({kind: fit_difficulty([file_part(loaded[kind], t, opts) for t in trains],
                                        seed=opts.seed, gate=gate_params(kind)[0],
                                        gate_weight=gate_params(kind)[1]) for kind in kinds}
                  if "difficulty" in opts.strategies else {})

    out = Path(opts.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".train-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; a bundle is read by the serving user
    try:
        signal_heads, static = _copy_base(first, tmp, opts.precision)
        tables: dict[str, dict[str, Any]] = {
            "minilm": {"heads": signal_heads, "default_strategy": "centroid"},
        }
        if static is not None:
            tables["static"] = static
        for kind, heads in fitted.items():
            for f in heads:
                entry = {**_write_head(f, tmp, kind), "models": list(models)}
                tables[kind]["heads"][f.name] = entry
            if heads:
                tables[kind]["default_strategy"] = heads[0].name
        for kind, head in difficulty.items():
            file = FILE_PREFIX[kind] + DIFFICULTY_FILE
            head.save(tmp / file)
            tables[kind]["heads"]["difficulty"] = {"file": file, **difficulty_params(head)}
            if not fitted.get(kind):
                tables[kind]["default_strategy"] = "difficulty"
        strong, weak = default_pair(models, score_matrix(train, models), cost_matrix(train, models))
        meta = {
            "name": opts.name or f"routeiq-trained-{'+'.join(p.stem for p in paths)}",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "builder": f"routeiq-sidecar {__version__}",
            "encoder": serving_encoder(first.manifest["encoder"], opts.precision),
            **tables["minilm"],
            **({"static": tables["static"]} if "static" in tables else {}),
            "models": list(models),
            "aliases": dict(opts.aliases),
            "model_stats": _model_stats(train, models),
            "pair": {"strong": strong, "weak": weak},
            "training": {
                "data": ",".join(p.name for p in paths),
                "data_sha256": sources[0].sha256 if len(sources) == 1 else None,
                "files": provenance(sources, trains, tests, methods),
                "rows": len(ds),
                "limit": opts.limit,
                "seed": opts.seed,
                "encoder": opts.encoder,
                "encoder_precision": opts.precision,
                "split": {"method": method, "requested": opts.split,
                          "test_fraction": opts.test_fraction,
                          "n_train": len(train), "n_test": len(test) if test else 0},
                "validation": {
                    "method": inner, "n_fit": len(fit_ds), "n_validation": len(val_ds),
                    "metric": "mean pairwise APGR",
                    "scores": _scores(fitted[kinds[0]]),
                    "scores_by_encoder": {k: _scores(f) for k, f in fitted.items()},
                },
                "base_bundle": {"name": first.name, "version": first.version},
                "train_ids_sha256": hashlib.sha256(
                    "\n".join(ex.id for ex in train).encode()).hexdigest(),
            },
        }
        manifest = mf.write_manifest(tmp, meta)
        mf.verify(tmp)
        with_escalation(load_bundle(tmp, precision=opts.precision, encoder=opts.encoder))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    manifest["report_by_encoder"] = {k: _report(f) for k, f in fitted.items()}
    manifest["report"] = manifest["report_by_encoder"][kinds[0]]
    return manifest


def _scores(fitted: list[Fitted]) -> dict[str, float]:
    return {f.name: round(f.validation, 6) for f in fitted}


def _report(fitted: list[Fitted]) -> dict[str, Any]:
    return {f.name: {"validation_mean_pair_apgr": f.validation, **f.params} for f in fitted}
