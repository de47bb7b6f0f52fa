"""Load a verified bundle into memory: encoder session, tokenizer, heads, strategies."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    extras: dict[str, Any] = field(default_factory=dict)  # heads loaded by strategies

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

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
    loaded = LoadedBundle(path, manifest, encoder, classifier)
    _load_heads(loaded)
    return loaded


def _load_heads(loaded: LoadedBundle) -> None:
    """Build the strategies once now, so a broken trained head refuses the bundle at load
    (a reload then keeps the old bundle); trained strategies cache themselves in ``extras``."""
    from routeiq_sidecar.strategies.registry import build_strategies

    try:
        build_strategies(loaded)
    except BundleError:
        raise
    except Exception as exc:
        raise BundleError(
            f"bundle {loaded.path}: cannot load a head ({type(exc).__name__}: {exc})"
        ) from None
