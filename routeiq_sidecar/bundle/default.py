"""The embedded default bundle: built once from the installed MiniLM package, then cached.

Cached under ``<home>/bundles/default-<key>``, the key covering the sidecar's version, the
weights package's version, the prototype prompts and the bundle layout (which files a build
writes), so an upgrade builds a fresh bundle.
Concurrent starts (several workers) take a file lock; the loser reuses the winner's bundle.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from importlib import metadata
from pathlib import Path

from routeiq_sidecar import __version__
from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle import packaged
from routeiq_sidecar.bundle.build import LAYOUT, build_bundle
from routeiq_sidecar.bundle.minilm_weights import DISTRIBUTION, minilm_model_dir
from routeiq_sidecar.bundle.prototypes import load_prototypes
from routeiq_sidecar.errors import BundleError

log = logging.getLogger("routeiq.bundle")


def default_bundle_path(home: Path) -> Path:
    minilm_model_dir()  # a clear error when the weights package is missing
    key = (f"{__version__}|{metadata.version(DISTRIBUTION)}|{load_prototypes().digest}"
           f"|layout{LAYOUT}|{packaged.digest()}")
    return Path(home) / "bundles" / f"default-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def ensure_default_bundle(home: Path) -> Path:
    path = default_bundle_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            mf.verify(path)
            return path
        except BundleError as err:
            if path.exists():
                log.warning("rebuilding the default bundle: %s", err)
        log.info("building the default bundle at %s (once)", path)
        build_bundle(path, encoder="minilm", name="routeiq-default")
        return path
