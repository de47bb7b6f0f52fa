"""Loading a bundle as one of its encoder views: minilm, static, or the cascade of both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.model.encoder import Encoder
from routeiq_sidecar.model.static_encoder import StaticEncoder


@pytest.fixture
def copy(tiny_bundle_path: Path, tmp_path: Path) -> Path:
    path = tmp_path / "bundle"
    shutil.copytree(tiny_bundle_path, path)
    return path


def test_static_view(tiny_bundle_path: Path) -> None:
    b = load_bundle(tiny_bundle_path, encoder="static")
    static = b.manifest["static"]
    assert b.kind == "static" and b.escalation is None
    assert isinstance(b.encoder, StaticEncoder) and b.encoder.dim == static["dim"]
    assert b.classifier.category_centroids.shape[1] == b.encoder.dim
    assert b.head("centroid") == static["heads"]["centroid"]
    assert static["heads"]["centroid"]["file"] == "centroids.static.npz"
    assert b.default_strategy == "centroid"
    assert static["tokenizer"] == b.manifest["encoder"]["tokenizer"]  # one tokenizer for both


def test_minilm_view_is_the_default(tiny_bundle_path: Path) -> None:
    b = load_bundle(tiny_bundle_path)
    assert b.kind == "minilm" and isinstance(b.encoder, Encoder) and b.escalation is None
    assert b.head("centroid") == b.manifest["heads"]["centroid"]


def test_cascade_view_escalates_to_minilm(tiny_bundle_path: Path) -> None:
    b = load_bundle(tiny_bundle_path, encoder="cascade")
    assert b.kind == "static" and b.escalation is not None
    assert b.escalation.kind == "minilm" and isinstance(b.escalation.encoder, Encoder)
    vecs = b.encoder.encode(["hello there"]).vectors
    assert vecs.shape == (1, b.manifest["static"]["dim"])


def test_unknown_kind_refused(tiny_bundle_path: Path) -> None:
    with pytest.raises(ValueError, match="encoder must be one of"):
        load_bundle(tiny_bundle_path, encoder="glove")


def test_bundle_without_a_static_encoder(copy: Path) -> None:
    """A bundle built before static encoders: MiniLM serves it, static names the fix."""
    m = json.loads((copy / mf.MANIFEST).read_text())
    for name in ("static.npy", "centroids.static.npz"):
        (copy / name).unlink()
    meta = {k: v for k, v in m.items() if k not in ("static", "files", "format", "version")}
    mf.write_manifest(copy, meta)
    assert load_bundle(copy).kind == "minilm"
    for kind in ("static", "cascade"):
        with pytest.raises(BundleError, match=r"no static encoder.*bundle build"):
            load_bundle(copy, encoder=kind)


def test_matrix_that_does_not_fit_the_tokenizer_refused(copy: Path) -> None:
    np.save(copy / "static.npy", np.zeros((100, 32), np.float16))
    m = json.loads((copy / mf.MANIFEST).read_text())
    mf.write_manifest(copy, {k: v for k, v in m.items() if k not in ("files", "version")})
    with pytest.raises(BundleError, match=rf"bundle {copy}: static.npy: 100 rows"):
        load_bundle(copy, encoder="static")
