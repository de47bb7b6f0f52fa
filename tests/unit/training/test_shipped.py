"""``eval`` of a bundle as shipped (no trained knn/mlp/mf head): its difficulty head on each
file's pair, a file it was trained on flagged, the share of stored prompts, the pair override
and the flags that do not apply refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.cli import main
from routeiq_sidecar.training.shipped import measure_shipped
from tests.unit.training.test_train import write_data


def _reworded(src: Path, dest: Path) -> Path:
    """``src`` with every prompt reworded: the same outcomes, prompts no head has stored."""
    rows = []
    for line in src.read_text().splitlines():
        row: dict[str, Any] = json.loads(line)
        row["prompt"] = "Please answer briefly, in French: " + row["prompt"][::-1]
        rows.append(json.dumps(row))
    dest.write_text("\n".join(rows) + "\n")
    return dest


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("shipped")
    seen = write_data(folder / "seen.jsonl", 10)
    return seen, _reworded(write_data(folder / "x.jsonl", 6), folder / "unseen.jsonl")


@pytest.fixture(scope="module")
def difficulty_bundle(files: tuple[Path, Path], tiny_bundle_path: Path,
                      tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("difficulty") / "bundle"
    home = tmp_path_factory.mktemp("home")
    code = main(["train", "--strategy", "difficulty", "--split", "none", "--data",
                 str(files[0]), "--bundle", str(tiny_bundle_path), "--out", str(out),
                 "--home", str(home), "--encoder-precision", "fp32"])
    assert code == 0
    return out


def test_a_training_file_is_flagged_and_its_prompts_are_stored(
        files: tuple[Path, Path], difficulty_bundle: Path, tmp_path: Path) -> None:
    bundle = load_bundle(difficulty_bundle, precision="fp32")
    report = measure_shipped(files, bundle, cache=tmp_path, precision="fp32")
    seen, unseen = report["files"]
    assert report["trained_on"] == ["seen.jsonl"]
    assert (seen["file"], seen["in_training"], seen["stored_share"]) == ("seen", True, 1.0)
    assert (unseen["file"], unseen["in_training"]) == ("unseen", False)
    assert unseen["stored_share"] == 0.0
    for f in report["files"]:
        assert set(f["routers"]) == {"difficulty", "difficulty/knn", "centroid"}
        assert (f["strong"], f["weak"]) == ("acme/strong", "weak")
        assert f["oracle"]["apgr"] > f["random"]["apgr"]
        assert f["routers"]["difficulty"]["aiq"] is not None  # the files have costs
    # the unseen-only mean is the unseen file's own figures
    assert report["mean_apgr_unseen"]["difficulty"] == unseen["routers"]["difficulty"]["apgr"]
    assert report["mean_apgr_unseen"]["length"] == unseen["length"]["apgr"]
    assert set(report["difficulty_minus_length"]) == {"seen", "unseen"}


def test_cli_tables_name_the_in_sample_file(files: tuple[Path, Path], difficulty_bundle: Path,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--bundle", str(difficulty_bundle), "--data",
                 ",".join(str(p) for p in files), "--home", str(tmp_path),
                 "--encoder-precision", "fp32"])
    assert code == 0
    out = capsys.readouterr().out
    assert "as shipped" in out and "IN-SAMPLE" in out
    assert "100.0% of its prompts stored in the head" in out
    assert "0.0% of its prompts stored in the head" in out
    assert "mean APGR over files the head was not trained on" in out
    for name in ("difficulty", "difficulty/knn", "centroid", "(length)", "APGR names"):
        assert name in out


def test_the_pair_can_be_chosen_and_is_checked(files: tuple[Path, Path],
                                               difficulty_bundle: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval", "--json", "--bundle", str(difficulty_bundle), "--data", str(files[1]),
            "--home", str(tmp_path), "--encoder-precision", "fp32"]
    assert main([*base, "--strong", "weak", "--weak", "acme/strong"]) == 0
    (f,) = json.loads(capsys.readouterr().out)["files"]
    assert (f["strong"], f["weak"]) == ("weak", "acme/strong")
    assert main([*base, "--strong", "nope"]) == 1
    err = capsys.readouterr().err
    assert "--strong 'nope' is not a model of" in err and "acme/strong, weak" in err
    assert main([*base, "--strong", "weak", "--weak", "weak"]) == 1
    assert "are the same model" in capsys.readouterr().err


def test_flags_for_trained_heads_are_refused(files: tuple[Path, Path], difficulty_bundle: Path,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "--bundle", str(difficulty_bundle), "--data", str(files[1]),
                 "--home", str(tmp_path), "--split", "random", "--plot", str(tmp_path / "p.png")])
    assert code == 1
    err = capsys.readouterr().err
    assert "--plot, --split apply to a bundle with trained heads" in err
