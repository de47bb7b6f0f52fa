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


def test_a_one_precision_bundle_serves_it_and_names_the_setting_for_the_other(copy: Path) -> None:
    """What `train` writes: only the serving precision's encoder (training/train.py)."""
    from routeiq_sidecar.training.train import serving_encoder

    manifest = json.loads((copy / mf.MANIFEST).read_text())
    enc = manifest["encoder"]
    (copy / enc["encoder"]).unlink()
    meta = {k: v for k, v in manifest.items() if k not in ("files", "version", "format")}
    mf.write_manifest(copy, {**meta, "encoder": serving_encoder(enc, "int8")})
    assert "encoder" not in mf.verify(copy)["encoder"]
    assert load_bundle(copy, precision="int8").encoder.dim > 0
    with pytest.raises(BundleError, match=r"only the int8 encoder.*encoder_precision=int8"):
        load_bundle(copy, precision="fp32")


def test_built_bundles_are_readable_by_other_users(tiny_bundle_path: Path) -> None:
    """bundle build --out: not the owner-only folder mkdtemp makes."""
    import stat

    assert stat.S_IMODE(tiny_bundle_path.stat().st_mode) == 0o755


def _with_category_head(copy: Path, dim: int, table: str = "minilm") -> None:
    from routeiq_sidecar.model.category_head import CategoryHead

    cats = ("code", "math", "translation")
    w = np.zeros((3, dim), np.float32)
    w[1, 0] = 1.0
    CategoryHead(cats, w, np.asarray([0, 0.5, 0], np.float32)).save(copy / "category.npz")
    m = json.loads((copy / mf.MANIFEST).read_text())
    heads = m["static"]["heads"] if table == "static" else m["heads"]
    heads["category"] = {"file": "category.npz", "categories": list(cats)}
    mf.write_manifest(copy, {k: v for k, v in m.items() if k not in ("files", "version")})


def test_a_category_head_in_the_table_gives_the_categories(copy: Path) -> None:
    plain = load_bundle(copy)
    assert plain.classifier.category_source == "centroid"
    _with_category_head(copy, plain.encoder.dim)
    b = load_bundle(copy)
    assert b.classifier.category_source == "trained"
    s = b.classifier.classify(np.zeros(b.encoder.dim, np.float32), 1)
    assert s.category == "math" and set(s.category_scores) == {"code", "math", "translation"}
    assert load_bundle(copy, encoder="static").classifier.category_source == "centroid"


def test_a_category_head_of_another_width_is_refused(copy: Path) -> None:
    _with_category_head(copy, load_bundle(copy).encoder.dim + 1)
    with pytest.raises(BundleError, match="category head width"):
        load_bundle(copy)
