"""The trained default router shipped inside the package (``routeiq_sidecar/heads/default_router``).

``scripts/train_default_router.py`` writes it with this project's own ``train`` command on the
licensed shared outcome files: ``difficulty.npz`` (strategies/difficulty.py) and
``training.json`` (data files and their sha256, seed, command, parameters). ``bundle build``
copies it into every MiniLM bundle, so a fresh install with no data folder routes with it; the
manifest's hash table then covers it like any head. ``centroid`` stays selectable.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

HEAD_FILE = "difficulty.npz"  # strategies/difficulty.py reads it (bundle/ sits below strategies/)

FOLDER = Path(__file__).resolve().parents[1] / "heads" / "default_router"
TRAINING_FILE = "training.json"
STRATEGY = "difficulty"


def available(folder: Path = FOLDER) -> bool:
    return (folder / HEAD_FILE).is_file() and (folder / TRAINING_FILE).is_file()


def digest(folder: Path = FOLDER) -> str:
    """Short hash of the shipped head (part of the default bundle's cache key)."""
    if not available(folder):
        return "none"
    h = hashlib.sha256()
    for name in (HEAD_FILE, TRAINING_FILE):
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:12]


def install(bundle_dir: Path, folder: Path = FOLDER) -> dict[str, Any] | None:
    """Copy the shipped head into ``bundle_dir``; its manifest entry, or None when absent."""
    if not available(folder):
        return None
    shutil.copy2(folder / HEAD_FILE, bundle_dir / HEAD_FILE)
    training = json.loads((folder / TRAINING_FILE).read_text())
    return {"file": HEAD_FILE, **dict(training.get("head", {})),
            "training": {k: v for k, v in training.items() if k != "head"}}
