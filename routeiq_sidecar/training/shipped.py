"""A bundle's routers as they ship, measured on outcome files: ``routeiq-sidecar eval --data F``
with no ``--bundle`` (the zero-config default bundle), or with a bundle that has no trained
``knn``/``mlp``/``mf`` head (a ``train --strategy difficulty`` bundle).

Nothing is fitted. Each file is measured exactly as a leave-one-file-out fold measures its
left-out file (training/transfer.py ``measure``: its test rows when it has a ``split`` column,
else all rows; its strong/weak pair sent as candidates declaring which is stronger, with the
file's prices only, and by name only; against ``length``, ``random`` and the oracle), with the
bundle's own `difficulty` head (its kNN part alone too), `centroid` and any trained head it
has. A file the `difficulty` head was trained on (matched by sha256 against the head's training
record) is flagged ``in_training``: its figures are in-sample, not transfer. A copy, subset or
edit of such a file has another digest, so each file also reports ``stored_share``: the share
of its measured prompts (test rows, else all) whose nearest prompt stored in the head is the
same text to the encoder (cosine >= ``SAME_PROMPT``, 0.98), i.e. prompts the head has seen with
their outcomes; where that share is high, the figures are not transfer either.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.bundle.manifest import sha256_file
from routeiq_sidecar.progress import progress
from routeiq_sidecar.strategies.difficulty import DifficultyStrategy
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.training.transfer import load_file, margins, mean_apgr, measure
from routeiq_sidecar.training.transfer_routers import Routers

SAME_PROMPT = 0.98  # cosine at which a stored prompt is the measured one: the shipped head
# stores float16 vectors from another CPU's int8 encoder, so a stored prompt measures 0.99-0.997


def training_files(bundle: LoadedBundle) -> dict[str, str]:
    """``{sha256: file name}`` of the data the bundle's `difficulty` head was trained on: its
    own training record (the shipped head) or the bundle's (a ``train`` bundle)."""
    entry = bundle.head("difficulty") or {}
    record = (entry.get("training") or bundle.table.get("training")
              or bundle.manifest.get("training") or {})
    files = record.get("files", []) if isinstance(record, dict) else []
    return {str(f["data_sha256"]): str(f["data"]) for f in files
            if isinstance(f, dict) and "data_sha256" in f and "data" in f}


def shipped_routers(bundle: LoadedBundle) -> Routers:
    """The bundle's `difficulty` head and trained heads, unfitted baselines left out."""
    strategies = build_strategies(bundle)
    head = strategies.by_name.get("difficulty")
    if not isinstance(head, DifficultyStrategy):
        raise ValueError(f"bundle {bundle.path} has no difficulty head to measure")
    return Routers(head.head, strategies.trained(), None, None, None)


def measure_shipped(paths: Sequence[Path], bundle: LoadedBundle, *, cache: Path | None,
                    precision: str, limit: int | None = None,
                    pair: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    """The report: one entry per file (``files``), the mean APGR of each router over the files
    the head was not trained on (``mean_apgr_unseen``; every file's in ``mean_apgr``).
    ``pair``: the strong and weak models to send (each file's default pair when None)."""
    routers = shipped_routers(bundle)
    trained = training_files(bundle)
    out: list[dict[str, Any]] = []
    for path in progress(list(paths), desc="outcome files", unit="file"):
        loaded = load_file(path, bundle, cache, precision, limit)
        rep, _ = measure(loaded, routers, bundle, pair)
        rep["in_training"] = sha256_file(Path(path)) in trained
        rep["stored_share"] = stored_share(routers, loaded.embeddings[loaded.test])
        out.append(rep)
    unseen = [f for f in out if not f["in_training"]]
    return {"bundle": {"name": bundle.name, "version": bundle.version, "encoder": bundle.kind,
                       "path": str(bundle.path)},
            "trained_on": sorted(trained.values()), "encoder_precision": precision,
            "files": out, "mean_apgr": mean_apgr(out) if out else {},
            "mean_apgr_unseen": mean_apgr(unseen) if unseen else {},
            "difficulty_minus_length": dict(zip([f["file"] for f in out], margins(out),
                                                strict=True))}


def stored_share(routers: Routers, embeddings: np.ndarray) -> float | None:
    """Share of ``embeddings`` whose nearest prompt stored in the `difficulty` head is the same
    prompt (cosine >= ``SAME_PROMPT``)."""
    if len(embeddings) == 0:
        return None
    _, sims = routers.difficulty.scan.top(np.asarray(embeddings, np.float32), 1)
    return round(float((sims[:, 0] >= SAME_PROMPT).mean()), 4)
