"""Several data files pooled: per-file score scales, provenance, per-file splits, CLI flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routeiq_sidecar.cli import build_parser
from routeiq_sidecar.errors import RouteIQError
from routeiq_sidecar.training.commands import data_files
from routeiq_sidecar.training.pool import load_sources, pooled, provenance, split_each


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    a = _write(tmp_path / "binary.jsonl", [
        {"id": str(i), "prompt": f"q{i}", "scores": {"m1": i % 2, "m2": 1},
         "split": "test" if i < 2 else "train"} for i in range(6)])
    b = _write(tmp_path / "judge.jsonl", [
        {"id": str(i), "prompt": f"p{i}", "scores": {"m2": 1 + i, "m3": 10 - i},
         "category": "c" + str(i % 2)} for i in range(6)])
    return a, b


def test_scores_on_one_scale_per_file_ids_prefixed(two_files: tuple[Path, Path]) -> None:
    src = load_sources(list(two_files))
    assert [s.scaled for s in src] == [False, True]
    assert src[1].score_range == (1.0, 10.0)
    judge = src[1].dataset.examples
    assert judge[0].scores == {"m2": 0.0, "m3": 1.0} and judge[0].id == "judge:0"
    ds = pooled([s.dataset for s in src])
    assert ds.models == ("m1", "m2", "m3") and len(ds) == 12


def test_each_file_split_on_its_own_with_provenance(two_files: tuple[Path, Path]) -> None:
    src = load_sources(list(two_files))
    trains, tests, methods = split_each(src, "field", 0, 0.5)
    assert methods == ["field", "group"]  # the judge file has no split column
    info = provenance(src, trains, tests, methods)
    assert info[0]["n_test"] == 2 and info[0]["data"] == "binary.jsonl"
    assert len(info[0]["data_sha256"]) == 64 and info[1]["scores_scaled"] is True


def test_two_files_with_one_name_are_refused(tmp_path: Path, two_files: tuple[Path, Path]) -> None:
    (tmp_path / "x").mkdir()
    other = _write(tmp_path / "x" / "binary.jsonl", [{"prompt": "a", "scores": {"m": 1}}])
    with pytest.raises(RouteIQError, match="share a name"):
        load_sources([two_files[0], other])


def test_data_flag_repeatable_and_comma_separated() -> None:
    args = build_parser().parse_args(
        ["train", "--data", "a.jsonl,b.jsonl", "--data", "c.jsonl", "--data", "a.jsonl",
         "--out", "o"])
    assert data_files(args.data) == (Path("a.jsonl"), Path("b.jsonl"), Path("c.jsonl"))


def test_a_single_valued_flag_given_twice_differently_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["train", "--data", "a", "--seed", "1", "--seed", "1",
                              "--out", "o"]).seed == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--data", "a", "--out", "x", "--out", "y"])
    assert "--out given twice with different values" in capsys.readouterr().err


def test_eval_finds_a_pooled_file_and_its_own_split(two_files: tuple[Path, Path]) -> None:
    from routeiq_sidecar.training.data import load_jsonl
    from routeiq_sidecar.training.evaluate import EvalOptions, _select_rows

    src = load_sources(list(two_files))
    trains, tests, methods = split_each(src, "field", 0, 0.5)
    manifest = {"training": {"seed": 0, "limit": None, "data_sha256": None,
                             "split": {"method": "per-file", "test_fraction": 0.5},
                             "files": provenance(src, trains, tests, methods)}}
    ds = load_jsonl(two_files[0])
    rows, used = _select_rows(ds, EvalOptions(Path("b"), two_files[0]), manifest)
    assert [ex.id for ex in rows] == ["0", "1"] and "field" in used
