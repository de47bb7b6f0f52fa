"""Several routing-data files as one training set: each file split on its own, scores put on
one scale per file, provenance kept.

Files differ in model sets (the union is the pooled model list; a model a file did not score is
missing there, NaN) and in score scales (0/1 correctness, pass rates, judge scores 1-10). A
file whose scores all lie in [0, 1] is kept as is; any other file is min-max scaled to [0, 1]
with its own minimum and maximum, recorded in the manifest (``training.files[i].score_range``).
Ids are prefixed with the file's stem when several files are pooled, so they stay unique.
Each file is split with the requested method on its own (a file without a ``split`` column
falls back as ``auto`` does), so every file contributes training and held-out rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from routeiq_sidecar.bundle.manifest import sha256_file
from routeiq_sidecar.errors import invalid
from routeiq_sidecar.training.data import Dataset, Example, load_jsonl
from routeiq_sidecar.training.splits import resolve_split, split_dataset


@dataclass(frozen=True)
class SourceFile:
    path: Path
    sha256: str
    dataset: Dataset  # normalised scores, prefixed ids when pooled
    score_range: tuple[float, float]
    scaled: bool


def _scores_range(ds: Dataset) -> tuple[float, float]:
    values = [v for ex in ds.examples for v in ex.scores.values()]
    return min(values), max(values)


def _normalise(ds: Dataset, lo: float, hi: float, prefix: str) -> Dataset:
    scale = lo < 0.0 or hi > 1.0
    if not scale and not prefix:
        return ds
    width = (hi - lo) or 1.0
    rows: list[Example] = []
    for ex in ds.examples:
        scores = {m: (v - lo) / width for m, v in ex.scores.items()} if scale else ex.scores
        rows.append(replace(ex, id=f"{prefix}{ex.id}", scores=scores))
    return Dataset(tuple(rows), ds.models, ds.path)


def load_sources(paths: Sequence[Path], *, limit: int | None = None) -> list[SourceFile]:
    if not paths:
        raise invalid("data", "no data file given")
    names = [Path(p).stem for p in paths]
    if len(set(names)) != len(names):
        raise invalid("data", f"two data files share a name: {[str(p) for p in paths]}")
    out: list[SourceFile] = []
    for path in paths:
        ds = load_jsonl(path, limit=limit)
        lo, hi = _scores_range(ds)
        prefix = f"{Path(path).stem}:" if len(paths) > 1 else ""
        out.append(SourceFile(Path(path), sha256_file(Path(path)), _normalise(ds, lo, hi, prefix),
                              (lo, hi), lo < 0.0 or hi > 1.0))
    return out


def pooled(datasets: Sequence[Dataset]) -> Dataset:
    """One dataset: the examples in file order, the sorted union of the models."""
    if len(datasets) == 1:
        return datasets[0]
    models = tuple(sorted({m for d in datasets for m in d.models}))
    return Dataset(tuple(ex for d in datasets for ex in d.examples), models, None)


def split_each(
    sources: Sequence[SourceFile], how: str, seed: int, test_fraction: float
) -> tuple[list[Dataset], list[Dataset | None], list[str]]:
    """Per file: train part, test part (None with ``how == "none"``), resolved method."""
    trains: list[Dataset] = []
    tests: list[Dataset | None] = []
    methods: list[str] = []
    for src in sources:
        if how == "none":
            trains.append(src.dataset)
            tests.append(None)
            methods.append("none")
            continue
        method = resolve_split(src.dataset, "auto" if how == "field" and any(
            ex.split is None for ex in src.dataset.examples) and len(sources) > 1 else how)
        train, test = split_dataset(src.dataset, method, seed=seed, test_fraction=test_fraction)
        trains.append(train)
        tests.append(test)
        methods.append(method)
    return trains, tests, methods


def provenance(sources: Sequence[SourceFile], trains: Sequence[Dataset],
               tests: Sequence[Dataset | None], methods: Sequence[str]) -> list[dict[str, Any]]:
    return [{
        "data": src.path.name, "data_sha256": src.sha256, "rows": len(src.dataset),
        "models": list(src.dataset.models), "score_range": list(src.score_range),
        "scores_scaled": src.scaled, "split": method, "n_train": len(tr),
        "n_test": len(te) if te is not None else 0,
    } for src, tr, te, method in zip(sources, trains, tests, methods, strict=True)]
