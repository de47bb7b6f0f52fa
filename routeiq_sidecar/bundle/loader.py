"""Load a verified bundle into memory: encoder, tokenizer, centroid head, category head.

A bundle serves one of three encoder kinds (``settings.encoder``): ``minilm`` (the ONNX
encoder and the heads of ``manifest["heads"]``), ``static`` (the distilled matrix and the
heads of ``manifest["static"]["heads"]``) or ``cascade`` (the static view, with the MiniLM view
as its ``escalation``). Each view has its own encoder, centroid classifier and head table, so
the strategies (which read ``head(name)``) need not know which encoder feeds them.

A view whose head table has a ``category`` entry (a trained category head,
model/category_head.py) classifies categories with it; otherwise with the prototype centroids.

The strategies' heads are read by strategies/registry.py (``build_strategies``), which the
process wiring calls right after loading, so a broken head refuses the bundle."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.limits import confined_path
from routeiq_sidecar.model.category_head import CategoryHead
from routeiq_sidecar.model.encoder import Encoder, TextEncoder
from routeiq_sidecar.model.signals import CentroidClassifier
from routeiq_sidecar.model.static_encoder import static_encoder_for
from routeiq_sidecar.model.tokenizer import BatchTokenizer

ENCODER_KINDS = ("minilm", "static", "cascade")


@dataclass
class LoadedBundle:
    path: Path
    manifest: dict[str, Any]
    encoder: TextEncoder
    classifier: CentroidClassifier
    kind: str = "minilm"  # the encoder of this view: minilm or static
    escalation: LoadedBundle | None = None  # cascade: the MiniLM view behind the static one

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
    def table(self) -> dict[str, Any]:
        """The part of the manifest holding this view's heads and default strategy."""
        if self.kind == "static":
            static = self.manifest.get("static")
            return static if isinstance(static, dict) else {}
        return self.manifest

    @property
    def default_strategy(self) -> str:
        return str(self.table.get("default_strategy", "centroid"))

    def file(self, name: object) -> Path:
        """A file the manifest names, confined to the bundle folder (BundleError otherwise)."""
        try:
            return confined_path(self.path, name)
        except ValueError as exc:
            raise BundleError(f"bundle {self.path}: {exc}") from None

    def head(self, name: str) -> dict[str, Any] | None:
        heads = self.table.get("heads", {})
        h = heads.get(name) if isinstance(heads, dict) else None
        return h if isinstance(h, dict) else None


def encoder_for(folder: Path, enc: dict[str, Any], precision: str, threads: int) -> Encoder:
    """The encoder session the manifest's ``encoder`` entry describes, at ``precision``.

    A trained bundle ships one precision only (the one its heads were fitted on): asking it
    for the other is a BundleError that names the setting."""
    name = enc.get("encoder_int8" if precision == "int8" else "encoder")
    if not name:
        has = "int8" if enc.get("encoder_int8") else "fp32"
        raise BundleError(
            f"bundle {folder}: it holds only the {has} encoder (its heads were trained on "
            f"{has} embeddings), not {precision}: serve it with encoder_precision={has} "
            f"(ROUTEIQ_ENCODER_PRECISION / --encoder-precision), or train it again with "
            f"--encoder-precision {precision}"
        )
    tok = BatchTokenizer(confined_path(folder, enc["tokenizer"]), int(enc["max_seq_length"]))
    return Encoder(confined_path(folder, name), tok, threads)


def load_bundle(
    path: Path, *, precision: str | None = None, threads: int = 0, encoder: str = "minilm"
) -> LoadedBundle:
    """Verify every hash, then load; any failure is a BundleError naming the bundle and cause.
    ``precision`` None: fp32 when the bundle has it, else the one it has (a trained bundle)."""
    if encoder not in ENCODER_KINDS:
        raise ValueError(f"encoder must be one of {ENCODER_KINDS}, not {encoder!r}")
    path = Path(path).resolve()
    manifest = mf.verify(path)
    if precision is None:
        enc = manifest.get("encoder")
        precision = "int8" if isinstance(enc, dict) and not enc.get("encoder") else "fp32"
    if encoder == "cascade":
        first = _load_view(path, manifest, "static", precision, threads)
        first.escalation = _load_view(path, manifest, "minilm", precision, threads)
        return first
    return _load_view(path, manifest, encoder, precision, threads)


def _load_view(
    path: Path, manifest: dict[str, Any], kind: str, precision: str, threads: int
) -> LoadedBundle:
    enc = manifest["encoder"]
    static = manifest.get("static")
    if kind == "static" and not isinstance(static, dict):
        raise BundleError(
            f"bundle {path}: no static encoder in the manifest (a bundle built before static "
            "encoders existed): rebuild it with `routeiq-sidecar bundle build`, or serve it "
            "with encoder=minilm"
        )
    table = static if kind == "static" else manifest
    assert isinstance(table, dict)
    centroid = (table.get("heads") or {}).get("centroid")
    if not isinstance(enc, dict) or not centroid:
        raise BundleError(f"bundle {path}: manifest lacks the encoder or the {kind} centroid head")
    try:
        encoder: TextEncoder = (
            static_encoder_for(path, table)
            if kind == "static"
            else encoder_for(path, enc, precision, threads)
        )
        classifier = CentroidClassifier.load(confined_path(path, centroid["file"]))
        category = (table.get("heads") or {}).get("category")
        if isinstance(category, dict):
            head = CategoryHead.load(confined_path(path, category["file"]))
            classifier = replace(classifier, category_head=head)
    except BundleError as exc:
        if str(exc).startswith("bundle "):
            raise
        raise BundleError(f"bundle {path}: {exc}") from None
    except Exception as exc:  # onnxruntime / numpy errors on a broken file
        raise BundleError(f"bundle {path}: cannot load ({type(exc).__name__}: {exc})") from None
    if classifier.category_centroids.shape[1] != encoder.dim:
        raise BundleError(f"bundle {path}: {kind} centroid width does not match the encoder's")
    if classifier.category_head is not None and classifier.category_head.dim != encoder.dim:
        raise BundleError(f"bundle {path}: {kind} category head width does not match the "
                          "encoder's")
    return LoadedBundle(path, manifest, encoder, classifier, kind=kind)
