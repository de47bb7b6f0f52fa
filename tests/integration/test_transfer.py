"""Leave one file out on the shared outcome files (skipped when ../shared/data is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.cli import main
from routeiq_sidecar.training.transfer import leave_one_out
from routeiq_sidecar.training.transfer_routers import ROUTERS
from tests.conftest import DATA

pytestmark = pytest.mark.minilm
DATA_DIR = Path(os.environ.get("ROUTEIQ_TEST_DATA", str(DATA)))
FILES = ("llmrouter_9models", "routerbench_subset_11models")


def _paths() -> list[Path]:
    paths = [DATA_DIR / f"{n}.jsonl" for n in FILES]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"routing data absent: {DATA_DIR} (see ../shared/data/README.md)")
    return paths


def test_each_fold_reports_every_router_against_the_baselines(
        minilm_bundle: LoadedBundle, tmp_path: Path) -> None:
    report, curves = leave_one_out(_paths(), minilm_bundle, cache=tmp_path, precision="fp32",
                                   limit=400)
    assert [f["file"] for f in report["folds"]] == list(FILES)
    for f in report["folds"]:
        assert f["trained_on"] == [n for n in FILES if n != f["file"]]
        assert set(f["routers"]) == set(ROUTERS)
        assert f["oracle"]["apgr"] > f["random"]["apgr"]
        assert f["oracle"]["aiq"] >= f["random"]["aiq"]  # both files have costs
        for r in f["routers"].values():
            assert r["aiq"] is not None and isinstance(r["prices"]["constant"], bool)
            assert isinstance(r["names"]["constant"], bool)
        # the two files share no model: a head that knows only its training models has no
        # prompt-dependent score for the pair, whatever the candidates declare
        assert f["routers"]["knn"]["constant"] and f["routers"]["knn"]["apgr"] == 0.5
        assert not f["routers"]["difficulty"]["constant"]
        assert set(curves[f["file"]]) >= {"difficulty", "mlp", "irt", "length", "oracle"}
    assert len(report["difficulty_minus_length"]) == 2
    assert set(report["mean_apgr_prices"]) == set(ROUTERS) == set(report["mean_apgr_names"])


def test_cli_leave_one_out_prints_json(minilm_bundle: LoadedBundle, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = ",".join(str(p) for p in _paths())
    code = main(["eval", "--json", "--leave-one-out", "--data", data, "--limit", "300",
                 "--bundle", str(minilm_bundle.path), "--home", str(tmp_path),
                 "--encoder-precision", "fp32"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"folds", "mean_apgr", "difficulty_minus_length"} <= set(out)


def test_leave_one_out_needs_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--leave-one-out", "--data", "a.jsonl", "--home", str(tmp_path)]) == 1
    assert "at least two --data files" in capsys.readouterr().err


def test_cli_measures_the_shipped_default_as_it_ships(minilm_bundle: LoadedBundle,
                                                      tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A MiniLM bundle carries the shipped difficulty head and no trained head: ``eval`` with
    it (as with no --bundle, the default bundle) measures that head on each file's pair; the
    shared files are the ones it was trained on, so both are flagged in-sample."""
    data = ",".join(str(p) for p in _paths())
    code = main(["eval", "--json", "--data", data, "--limit", "300",
                 "--bundle", str(minilm_bundle.path), "--home", str(tmp_path),
                 "--encoder-precision", "fp32"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert "routellm_mmlu.jsonl" in out["trained_on"]
    assert [f["file"] for f in out["files"]] == list(FILES)
    for f in out["files"]:
        assert f["in_training"] is True
        assert set(f["routers"]) == {"difficulty", "difficulty/knn", "centroid"}
        assert not f["routers"]["difficulty"]["constant"]
        assert 0.0 <= f["stored_share"] <= 1.0
    assert out["mean_apgr_unseen"] == {}
    assert set(out["mean_apgr"]) == {"difficulty", "difficulty/knn", "centroid", "length",
                                     "random", "oracle"}
