"""The trained default router shipped inside the package (``routeiq_sidecar/heads/default_router``).

``scripts/train_default_router.py`` writes it with this project's own ``train`` command on the
licensed shared outcome files: ``difficulty.npz`` (strategies/difficulty.py, fitted on MiniLM
vectors) and ``training.json`` (data files and their sha256, seed, command, parameters), and
with ``--encoder static`` the same head fitted on the static encoder's vectors
(``static.difficulty.npz``, ``training.static.json``, which also records the static recipe).
``bundle build`` copies them into every MiniLM bundle (the static head only when the bundle's
static recipe is the one it was fitted on), so a fresh install with no data folder routes with
them under either encoder; the manifest's hash table then covers them like any head.
``centroid`` stays selectable.

The trained category head (model/category_head.py; ``category.npz`` + ``training.category.json``,
``static.category.npz`` + ``training.static.category.json``, written by
scripts/train_category_head.py) is installed the same way as each view's ``category`` head, so
``signals.category`` on a fresh install comes from it; a bundle without it classifies
categories with the prototype centroids.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

HEAD_FILES = {"minilm": "difficulty.npz", "static": "static.difficulty.npz"}
TRAINING_FILES = {"minilm": "training.json", "static": "training.static.json"}
CATEGORY_FILES = {"minilm": "category.npz", "static": "static.category.npz"}
CATEGORY_TRAINING_FILES = {"minilm": "training.category.json",
                           "static": "training.static.category.json"}
HEAD_FILE = HEAD_FILES["minilm"]  # strategies/difficulty.py reads it (bundle/ below strategies/)
TRAINING_FILE = TRAINING_FILES["minilm"]
STATIC_RECIPE = ("dim", "vocab_size", "source_dim", "reduction", "weighting", "zero_rows")

FOLDER = Path(__file__).resolve().parents[1] / "heads" / "default_router"
STRATEGY = "difficulty"


def available(folder: Path = FOLDER, kind: str = "minilm") -> bool:
    return (folder / HEAD_FILES[kind]).is_file() and (folder / TRAINING_FILES[kind]).is_file()


def category_available(folder: Path = FOLDER, kind: str = "minilm") -> bool:
    return ((folder / CATEGORY_FILES[kind]).is_file()
            and (folder / CATEGORY_TRAINING_FILES[kind]).is_file())


def digest(folder: Path = FOLDER) -> str:
    """Short hash of the shipped heads (part of the default bundle's cache key)."""
    pairs = [(HEAD_FILES[k], TRAINING_FILES[k]) for k in HEAD_FILES if available(folder, k)]
    pairs += [(CATEGORY_FILES[k], CATEGORY_TRAINING_FILES[k]) for k in CATEGORY_FILES
              if category_available(folder, k)]
    if not pairs:
        return "none"
    h = hashlib.sha256()
    for pair in pairs:
        for name in pair:
            h.update((folder / name).read_bytes())
    return h.hexdigest()[:12]


def static_recipe(static: dict[str, Any]) -> dict[str, Any]:
    """What a static head's vectors depend on, from a manifest's ``static`` entry."""
    return {k: static.get(k) for k in STATIC_RECIPE}


def install(bundle_dir: Path, folder: Path = FOLDER, *, kind: str = "minilm",
            static: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Copy a shipped head into ``bundle_dir``; its manifest entry, or None when absent (or,
    for ``kind`` static, fitted on another static recipe than ``static``, the bundle's)."""
    if not available(folder, kind):
        return None
    training = json.loads((folder / TRAINING_FILES[kind]).read_text())
    if kind == "static" and (
        static is None or training.get("static_recipe") != static_recipe(static)
    ):
        return None
    shutil.copy2(folder / HEAD_FILES[kind], bundle_dir / HEAD_FILES[kind])
    return {"file": HEAD_FILES[kind], **dict(training.get("head", {})),
            "training": {k: v for k, v in training.items() if k != "head"}}


def install_category(bundle_dir: Path, folder: Path = FOLDER, *, kind: str = "minilm",
                     static: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Copy the shipped category head of ``kind`` into ``bundle_dir``; its manifest entry, or
    None when absent (or, for static, fitted on another static recipe than the bundle's)."""
    if not category_available(folder, kind):
        return None
    training = json.loads((folder / CATEGORY_TRAINING_FILES[kind]).read_text())
    if kind == "static" and (
        static is None or training.get("static_recipe") != static_recipe(static)
    ):
        return None
    shutil.copy2(folder / CATEGORY_FILES[kind], bundle_dir / CATEGORY_FILES[kind])
    keep = ("kind", "params", "categories", "command", "reproduce", "seed", "files")
    return {"file": CATEGORY_FILES[kind], **{k: training[k] for k in keep if k in training}}
