"""Train and measure the category head on the licensed outcome files and the prototypes.

``train_category_head`` (scripts/train_category_head.py) embeds the labelled rows
(training/category_data.py) with a bundle's encoder, holds out a stratified split by prompt,
picks the head family and its parameters on a validation split carved from the rest (by the
mean of the file rows' balanced accuracy, so no category wins by being a catch-all, and the
held-out prototype prompts' accuracy, as they stand for chat traffic the files lack), refits
the pick on all non-held-out rows and reports on the held-out rows, next to the prototype
centroids on the same rows; files named in ``eval_files`` (never trained on) are measured
too. The held-out rows are never trained on, so the shipped head can be re-measured on them
(``measure_bundle``: bench/categories.py, ``eval --categories``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.bundle.prototypes import load_prototypes
from routeiq_sidecar.model.category_head import CategoryHead
from routeiq_sidecar.model.signals import CentroidClassifier
from routeiq_sidecar.progress import stage
from routeiq_sidecar.training import category_eval
from routeiq_sidecar.training.category_data import (
    PROTOTYPES,
    Labelled,
    labelled_rows,
    stratified_split,
)
from routeiq_sidecar.training.category_fit import fit_head
from routeiq_sidecar.training.embed import embed_cached
from routeiq_sidecar.training.task_map import load_task_map

CAP = 300  # rows per (file, task)
HELD_OUT = 0.2
VALIDATION = 0.2
SELECTION = ("validation score: mean of the file rows' balanced accuracy and the prototype "
             "prompts' accuracy")
GRID: tuple[tuple[str, dict[str, float]], ...] = (
    *(("logreg", {"balance": 1.0, "prototype_share": s, "l2": l2, "steps": 300})
      for s in (0.0, 0.25, 0.5, 0.75) for l2 in (1e-3, 1e-2, 3e-2)),
    ("logreg", {"balance": 0.5, "prototype_share": 0.25, "l2": 1e-3, "steps": 300}),
    *(("centroid", {"balance": 1.0, "prototype_share": s, "temperature": 0.05})
      for s in (0.25, 0.5)),
)


@dataclass
class Embedded:
    rows: Labelled
    x: np.ndarray


def embed_rows(bundle: LoadedBundle, files: Sequence[Path], *, prototypes: bool, cap: int | None,
               seed: int, cache_dir: Path | None, precision: str) -> Embedded:
    protos = load_prototypes()
    rows = labelled_rows(files, protos, load_task_map(), bundle.manifest, cap=cap, seed=seed,
                         with_prototypes=prototypes)
    x = embed_cached(bundle.encoder, rows.texts, manifest=bundle.manifest, cache_dir=cache_dir,
                     desc=f"embedding ({bundle.kind}) category rows", precision=precision,
                     kind=bundle.kind)
    return Embedded(rows, x)


def _log_loss(head: CategoryHead, x: np.ndarray, y: np.ndarray) -> float:
    p = head.probs(x)[np.arange(len(y)), y]
    return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())


def _predict(head: CategoryHead, x: np.ndarray) -> np.ndarray:
    return np.asarray(head.logits(x).argmax(axis=1))


def centroids_only(bundle: LoadedBundle) -> CentroidClassifier:
    """The bundle's prototype-centroid classifier, without any trained category head."""
    return replace(bundle.classifier, category_head=None)


def measure(model: CategoryHead | CentroidClassifier, e: Embedded,
            idx: np.ndarray | None = None) -> dict[str, Any]:
    """Reports on rows ``idx`` (all when None): ``all``, ``data`` (file rows), ``prototypes``.
    ``model`` a head, or a classifier (what serving answers: its head, else its centroids)."""
    idx = np.arange(len(e.rows)) if idx is None else idx
    names = e.rows.categories
    if isinstance(model, CategoryHead):
        pred_names = [model.categories[i] for i in _predict(model, e.x[idx])]
    else:
        pred_names = [model.classify(v, 1).category for v in e.x[idx]]
    where = {c: i for i, c in enumerate(names)}
    y_pred = np.asarray([where[c] for c in pred_names], np.int64)
    y = e.rows.y[idx]
    groups = [e.rows.groups[i] for i in idx]
    is_proto = np.asarray([g.startswith(PROTOTYPES + ":") for g in groups], bool)
    out = {}
    for part, mask in (("all", np.ones(len(idx), bool)), ("data", ~is_proto),
                       ("prototypes", is_proto)):
        if mask.any():
            out[part] = category_eval.report(y[mask], y_pred[mask], names,
                                             [g for g, m in zip(groups, mask, strict=True) if m])
    return out


def select(e: Embedded, train_idx: np.ndarray, seed: int) -> tuple[list[dict[str, Any]], int]:
    """Score every GRID entry on a validation split of ``train_idx``; (scores, best index)."""
    groups = [e.rows.groups[i] for i in train_idx]
    fit_rel, val_rel = stratified_split(groups, VALIDATION, seed + 1)
    fit_idx, val_idx = train_idx[fit_rel], train_idx[val_rel]
    y = e.rows.y
    scores = []
    for kind, params in GRID:
        with stage(f"category head: {kind} {params}"):
            head = fit_head(kind, e.x[fit_idx], y[fit_idx], [e.rows.groups[i] for i in fit_idx],
                            e.rows.categories, params)
        rep = measure(head, e, val_idx)
        data, protos = rep["data"], rep["prototypes"]
        scores.append({"kind": kind, **params,
                       "score": round((data["balanced_accuracy"] + protos["accuracy"]) / 2, 4),
                       "data_accuracy": data["accuracy"],
                       "data_balanced_accuracy": data["balanced_accuracy"],
                       "prototype_accuracy": protos["accuracy"],
                       "log_loss": round(_log_loss(head, e.x[val_idx], y[val_idx]), 4)})
    best = max(range(len(scores)), key=lambda i: (scores[i]["score"], -scores[i]["log_loss"]))
    return scores, best


def train_category_head(bundle: LoadedBundle, files: Sequence[Path], *, seed: int,
                        cache_dir: Path | None, precision: str,
                        eval_files: Sequence[Path] = ()) -> tuple[CategoryHead, dict[str, Any]]:
    e = embed_rows(bundle, files, prototypes=True, cap=CAP, seed=seed, cache_dir=cache_dir,
                   precision=precision)
    train_idx, test_idx = stratified_split(e.rows.groups, HELD_OUT, seed)
    scores, best = select(e, train_idx, seed)
    kind, params = GRID[best]
    head = fit_head(kind, e.x[train_idx], e.rows.y[train_idx],
                    [e.rows.groups[i] for i in train_idx], e.rows.categories, params)
    record: dict[str, Any] = {
        "kind": kind, "params": params, "categories": list(e.rows.categories),
        "rows": {"total": len(e.rows), "train": len(train_idx),
                 "held_out": len(test_idx), "skipped": e.rows.skipped},
        "cap_per_task": CAP, "held_out_fraction": HELD_OUT, "validation_fraction": VALIDATION,
        "selection": {"metric": SELECTION, "grid": scores},
        "held_out": measure(head, e, test_idx),
        "held_out_prototype_centroids": measure(centroids_only(bundle), e, test_idx),
    }
    for path in eval_files:
        ev = embed_rows(bundle, [path], prototypes=False, cap=CAP, seed=seed,
                        cache_dir=cache_dir, precision=precision)
        record.setdefault("measured_files", {})[Path(path).stem] = {
            "trained": measure(head, ev)["all"],
            "prototype_centroids": measure(centroids_only(bundle), ev)["all"],
            "skipped": ev.rows.skipped,
        }
    return head, record


def measure_bundle(bundle: LoadedBundle, files: Sequence[Path], *, cache_dir: Path | None,
                   precision: str) -> dict[str, Any]:
    """What ``bundle`` answers as ``signals.category`` (its trained head, else its prototype
    centroids) next to the prototype centroids. When ``files`` hold every file the bundle's
    category head was trained on (matched by sha256), their held-out split is rebuilt
    (same cap, seed and fraction) and measured; every other file is measured whole (capped)."""
    from routeiq_sidecar.bundle.manifest import sha256_file

    entry = bundle.head("category") or {}
    trained = {f["data_sha256"]: f["data"] for f in entry.get("files", [])}
    seed = int(entry.get("seed", 0))
    digests = {Path(p): sha256_file(Path(p)) for p in files}
    mine = [p for p, d in digests.items() if d in trained]
    if mine and len(mine) != len(trained):
        missing = sorted(set(trained.values()) - {p.name for p in mine})
        raise ValueError(f"the category head was trained on {sorted(trained.values())}: give "
                         f"all of them to rebuild its held-out split (missing {missing})")
    clf = bundle.classifier
    record: dict[str, Any] = {"bundle": {"name": bundle.name, "version": bundle.version,
                                         "encoder": bundle.kind},
                              "category_source": clf.category_source}
    if mine:
        e = embed_rows(bundle, mine, prototypes=True, cap=CAP, seed=seed, cache_dir=cache_dir,
                       precision=precision)
        _, test_idx = stratified_split(e.rows.groups, HELD_OUT, seed)
        record["held_out"] = measure(clf, e, test_idx)
        record["held_out_prototype_centroids"] = measure(centroids_only(bundle), e, test_idx)
    for path in (p for p in digests if p not in mine):
        ev = embed_rows(bundle, [path], prototypes=False, cap=CAP, seed=seed,
                        cache_dir=cache_dir, precision=precision)
        record.setdefault("measured_files", {})[path.stem] = {
            "trained": measure(clf, ev)["all"],
            "prototype_centroids": measure(centroids_only(bundle), ev)["all"],
            "skipped": ev.rows.skipped,
        }
    return record
