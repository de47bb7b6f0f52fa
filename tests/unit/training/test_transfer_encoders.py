"""Leave one file out on either encoder (tiny random bundle, synthetic outcome files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.cli import main
from routeiq_sidecar.training.transfer import leave_one_out
from tests.unit.training.test_train import write_data


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("loo")
    return [write_data(folder / "a.jsonl", 20), write_data(folder / "b.jsonl", 15)]


def test_static_folds_embed_with_the_static_encoder(
    files: list[Path], tiny_bundle_path: Path, tmp_path: Path
) -> None:
    static = load_bundle(tiny_bundle_path, encoder="static")
    report, _ = leave_one_out(files, static, cache=tmp_path, precision="fp32")
    assert report["encoder"] == "static" and len(report["folds"]) == 2
    cached = {p.name for p in tmp_path.iterdir()}
    minilm, _ = leave_one_out(files, load_bundle(tiny_bundle_path), cache=tmp_path,
                              precision="fp32")
    assert minilm["encoder"] == "minilm"
    assert len({p.name for p in tmp_path.iterdir()} - cached) == 1  # its own cache folder


def test_cli_refuses_a_cascade(files: list[Path], tiny_bundle_path: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    data = ",".join(str(p) for p in files)
    args = ["eval", "--json", "--leave-one-out", "--data", data, "--bundle", str(tiny_bundle_path),
            "--home", str(tmp_path), "--encoder-precision", "fp32"]
    assert main([*args, "--encoder", "cascade"]) == 1
    assert "one encoder" in capsys.readouterr().err
    assert main([*args, "--encoder", "static"]) == 0
    assert json.loads(capsys.readouterr().out)["encoder"] == "static"
