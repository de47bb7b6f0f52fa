"""Build a bundle folder: encoder (fp32 + int8), tokenizer, the static encoder distilled from
it, a centroid head for each encoder (plus the shipped trained heads: bundle/packaged.py),
manifest.

The exporters and the distillation (export/; the exporters import onnx) are imported only when
a bundle is built, so a serving process that loads a ready bundle never loads them."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar import __version__
from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle import packaged
from routeiq_sidecar.bundle.loader import encoder_for
from routeiq_sidecar.bundle.prototypes import Prototypes, load_prototypes
from routeiq_sidecar.model.encoder import TextEncoder
from routeiq_sidecar.model.signals import CentroidClassifier, centroids_from, order_tiers
from routeiq_sidecar.model.static_encoder import static_encoder_for
from routeiq_sidecar.progress import progress, stage

LAYOUT = 2  # bump when build_bundle writes other files (2: the static encoder); see default.py
CENTROIDS_FILE = "centroids.npz"
STATIC_DIMS = 256  # width of the distilled static vectors (export/static_distill.py)
STATIC_CENTROIDS_FILE = "centroids.static.npz"
CENTROID_TEMPERATURE = 0.05
ENCODERS = ("minilm", "tiny-random")


def exporter(encoder: str) -> Callable[[Path], dict[str, Any]]:
    """The function writing ``encoder``'s ONNX files and tokenizer into a folder."""
    from routeiq_sidecar.export import minilm  # build-time only: imports onnx

    exporters: dict[str, Callable[[Path], dict[str, Any]]] = {
        "minilm": minilm.export_minilm,
        "tiny-random": minilm.export_tiny_random,
    }
    return exporters[encoder]


def embed_texts(
    encoder: TextEncoder, texts: list[str], batch: int = 32, desc: str = ""
) -> np.ndarray:
    out = []
    for i in progress(range(0, len(texts), batch), desc=desc, unit="batch"):
        out.append(encoder.encode(texts[i : i + batch]).vectors)
    return np.concatenate(out) if out else np.zeros((0, encoder.dim), np.float32)


def build_centroids(encoder: TextEncoder, protos: Prototypes) -> CentroidClassifier:
    texts = [t for group in (protos.categories, protos.tiers) for ps in group.values() for t in ps]
    vecs = embed_texts(encoder, texts, desc="prototype prompts")
    it = iter(vecs)
    by_cat = {k: np.stack([next(it) for _ in v]) for k, v in protos.categories.items()}
    by_tier = {k: np.stack([next(it) for _ in v]) for k, v in protos.tiers.items()}
    cats, cat_c = centroids_from(by_cat)
    tier_names = order_tiers(tuple(by_tier))
    _, tier_c = centroids_from({t: by_tier[t] for t in tier_names})
    return CentroidClassifier(cats, cat_c, tier_names, tier_c, CENTROID_TEMPERATURE)


def centroid_head(file: str, clf: CentroidClassifier, protos: Prototypes) -> dict[str, Any]:
    return {
        "file": file,
        "categories": list(clf.categories),
        "tiers": list(clf.tiers),
        "prototypes_digest": protos.digest,
        "temperature": CENTROID_TEMPERATURE,
    }


def build_bundle(
    out: Path,
    *,
    encoder: str = "minilm",
    name: str = "routeiq-default",
    threads: int = 0,
    static_dims: int = STATIC_DIMS,
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a complete, verified bundle to ``out`` (built in a temp folder, then moved)."""
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {sorted(ENCODERS)}, not {encoder!r}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it owner-only; a bundle is read by the serving user
    try:
        logging.disable(logging.INFO)  # onnxruntime's quantizer logs every tensor at INFO
        try:
            with stage(f"bundle: export the {encoder} encoder to ONNX (fp32 + int8)"):
                enc = exporter(encoder)(tmp)
        finally:
            logging.disable(logging.NOTSET)
        protos = load_prototypes()
        clf = build_centroids(encoder_for(tmp, enc, "fp32", threads), protos)
        clf.save(tmp / CENTROIDS_FILE)
        from routeiq_sidecar.export.static_distill import distill_static  # build-time only

        static = distill_static(tmp, enc, dims=static_dims, threads=threads)
        static_clf = build_centroids(static_encoder_for(tmp, static), protos)
        static_clf.save(tmp / STATIC_CENTROIDS_FILE)
        shipped = encoder == "minilm"  # the shipped heads were fitted on MiniLM's vectors
        router = packaged.install(tmp) if shipped else None
        static_router = packaged.install(tmp, kind="static", static=static) if shipped else None
        category = packaged.install_category(tmp) if shipped else None
        static_category = (packaged.install_category(tmp, kind="static", static=static)
                           if shipped else None)
        meta = {
            "name": name,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "builder": f"routeiq-sidecar {__version__}",
            "encoder": enc,
            "default_strategy": packaged.STRATEGY if router else "centroid",
            "heads": {**({packaged.STRATEGY: router} if router else {}),
                      **({"category": category} if category else {}),
                      "centroid": centroid_head(CENTROIDS_FILE, clf, protos)},
            "static": {
                **static,
                "default_strategy": packaged.STRATEGY if static_router else "centroid",
                "heads": {**({packaged.STRATEGY: static_router} if static_router else {}),
                          **({"category": static_category} if static_category else {}),
                          "centroid": centroid_head(STATIC_CENTROIDS_FILE, static_clf, protos)},
            },
            **(extra_meta or {}),
        }
        manifest = mf.write_manifest(tmp, meta)
        mf.verify(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
        return manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
