"""Load a verified bundle into memory: encoder session, tokenizer, centroid head.

The strategies' heads are read by strategies/registry.py (``build_strategies``), which the
process wiring calls right after loading, so a broken head refuses the bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.model.encoder import Encoder
from routeiq_sidecar.model.signals import CentroidClassifier
from routeiq_sidecar.model.tokenizer import BatchTokenizer


@dataclass
class LoadedBundle:
    path: Path
    manifest: dict[str, Any]
    encoder: Encoder
    classifier: CentroidClassifier

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def embedding_dim(self) -> int:
        return self.encoder.dim

    @property
    def default_strategy(self) -> str:
        return str(self.manifest.get("default_strategy", "centroid"))

    def head(self, name: str) -> dict[str, Any] | None:
        heads = self.manifest.get("heads", {})
        h = heads.get(name) if isinstance(heads, dict) else None
        return h if isinstance(h, dict) else None


def encoder_for(folder: Path, enc: dict[str, Any], precision: str, threads: int) -> Encoder:
    """The encoder session the manifest's ``encoder`` entry describes, at ``precision``."""
    tok = BatchTokenizer(folder / enc["tokenizer"], int(enc["max_seq_length"]))
    name = enc["encoder_int8"] if precision == "int8" else enc["encoder"]
    return Encoder(folder / name, tok, threads)


def load_bundle(path: Path, *, precision: str = "fp32", threads: int = 0) -> LoadedBundle:
    """Verify every hash, then load; any failure is a BundleError naming the bundle and cause."""
    path = Path(path).resolve()
    manifest = mf.verify(path)
    enc = manifest["encoder"]
    centroid = (manifest.get("heads") or {}).get("centroid")
    if not isinstance(enc, dict) or not centroid:
        raise BundleError(f"bundle {path}: manifest lacks the encoder or the centroid head")
    try:
        encoder = encoder_for(path, enc, precision, threads)
        classifier = CentroidClassifier.load(path / centroid["file"])
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime / numpy errors on a broken file
        raise BundleError(f"bundle {path}: cannot load ({type(exc).__name__}: {exc})") from None
    if classifier.category_centroids.shape[1] != encoder.dim:
        raise BundleError(f"bundle {path}: centroid width does not match the encoder's")
    return LoadedBundle(path, manifest, encoder, classifier)

