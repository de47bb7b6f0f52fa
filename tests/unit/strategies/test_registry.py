"""The strategies are built once from a loaded bundle; a broken head refuses the bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.registry import BASELINES, build_strategies


def test_a_bundle_without_trained_heads_offers_the_baselines(tiny_bundle: LoadedBundle) -> None:
    built = build_strategies(tiny_bundle)
    assert set(built.by_name) == set(BASELINES)
    assert built.trained() == {} and built.known_models == ()


def test_a_head_that_does_not_load_refuses_the_bundle(
    tiny_bundle_path: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle_path, broken)
    (broken / "knn.npz").write_bytes(b"not an npz file")
    meta = {k: v for k, v in mf.read_manifest(broken).items() if k not in ("files", "version")}
    meta["models"] = ["a", "b"]
    meta["heads"] = {**meta["heads"], "knn": {"file": "knn.npz", "k": 3}}
    mf.write_manifest(broken, meta)
    bundle = load_bundle(broken)  # the bundle itself (hashes, encoder, centroids) is fine
    with pytest.raises(BundleError, match=r"broken: cannot load a head"):
        build_strategies(bundle)


def test_only_scan_free_strategies_predict_on_the_event_loop() -> None:
    """ARCHITECTURE.md: no kNN scan or onnxruntime call on the event loop. The baselines and
    `centroid` compute a few numbers; `difficulty` (a kNN scan) and the trained heads run in
    the worker thread (engine/ranking.py)."""
    from routeiq_sidecar.strategies import baselines
    from routeiq_sidecar.strategies.base import runs_inline
    from routeiq_sidecar.strategies.centroid import CentroidStrategy
    from routeiq_sidecar.strategies.difficulty import DifficultyStrategy
    from routeiq_sidecar.strategies.trained import TrainedStrategy

    inline = [baselines.RandomStrategy, baselines.CheapestStrategy, baselines.StrongestStrategy,
              baselines.LengthStrategy, CentroidStrategy]
    assert all(runs_inline(cls) for cls in inline)  # type: ignore[arg-type]
    assert not runs_inline(DifficultyStrategy)  # type: ignore[arg-type]
    assert not runs_inline(TrainedStrategy)  # type: ignore[arg-type]
