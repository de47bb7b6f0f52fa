"""The leave-one-file-out table on a tiny bundle: every router has a row, a pair of models no
training file has is served through priors (a per-model head then ranks nothing), the text
report of ``eval --leave-one-out`` shows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.cli import main
from routeiq_sidecar.training.transfer import fold, leave_one_out, load_file
from routeiq_sidecar.training.transfer_routers import ROUTERS
from tests.unit.training.test_train import write_data


def _renamed(src: Path, dest: Path) -> Path:
    """``src`` with its models renamed and no costs: a file sharing no model with the others."""
    names = {"acme/strong": "other/alpha", "weak": "other/beta"}  # names stating no size
    rows = []
    for line in src.read_text().splitlines():
        row: dict[str, Any] = json.loads(line)
        row["scores"] = {names[m]: v for m, v in row["scores"].items()}
        row.pop("cost_usd")
        rows.append(json.dumps(row))
    dest.write_text("\n".join(rows) + "\n")
    return dest


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("table")
    a, b = write_data(folder / "a.jsonl", 12), write_data(folder / "b.jsonl", 10)
    return [a, b, _renamed(write_data(folder / "c0.jsonl", 8), folder / "c.jsonl")]


def test_every_router_has_a_row_and_unknown_pairs_are_served_by_priors(
    files: list[Path], tiny_bundle: LoadedBundle, tmp_path: Path
) -> None:
    report, curves = leave_one_out(files, tiny_bundle, cache=tmp_path, precision="fp32")
    by_file = {f["file"]: f for f in report["folds"]}
    assert set(report["mean_apgr"]) == {*ROUTERS, "length", "random", "oracle"}
    for f in report["folds"]:
        assert set(f["routers"]) == set(ROUTERS)
        assert set(curves[f["file"]]) == {*ROUTERS, "length", "oracle"}
    known = by_file["a"]["routers"]
    assert not known["knn"]["constant"] and known["knn"]["aiq"] is not None
    assert by_file["a"]["random"]["aiq"] is not None
    unknown = by_file["c"]
    assert unknown["n_priced"] == 0 and "aiq" not in unknown["oracle"]
    for name in ("knn", "mlp", "mf", "ensemble"):  # no model of c in training: priors only
        assert unknown["routers"][name]["constant"]
        assert unknown["routers"][name]["apgr"] == 0.5
    # no prices and nothing declared: every candidate has the same prior
    assert unknown["routers"]["difficulty"]["prices"]["constant"]
    assert unknown["routers"]["difficulty"]["names"]["constant"]  # names stating no size
    assert set(report["mean_apgr_names"]) == set(report["mean_apgr_prices"])
    assert not unknown["routers"]["difficulty"]["constant"]  # declared: ranks by difficulty
    assert set(report["best_router"]) == {"a", "b", "c"}


def test_cli_text_report_lists_the_routers(files: list[Path], tiny_bundle_path: Path,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--leave-one-out", "--data", ",".join(str(p) for p in files),
                 "--bundle", str(tiny_bundle_path), "--home", str(tmp_path),
                 "--encoder-precision", "fp32"])
    assert code == 0
    out = capsys.readouterr().out
    for name in (*ROUTERS, "(length)", "APGR prices", "APGR names", "AIQ"):
        assert name in out
    assert "knn (constant)" in out


def test_a_difficulty_only_fold_for_the_grid(files: list[Path], tiny_bundle: LoadedBundle) -> None:
    loaded = [load_file(p, tiny_bundle, None, "fp32") for p in files]
    rep, _ = fold(loaded[0], loaded[1:], tiny_bundle, params={"blend": 0.5, "k": 3}, full=False,
                  precision="fp32")
    assert set(rep["routers"]) == {"difficulty", "difficulty/knn", "centroid"}
    assert rep["params"]["blend"] == 0.5 and rep["trained_on"] == ["b", "c"]
