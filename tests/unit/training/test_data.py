"""The routing-data loader, its errors, the splits and the matrices."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.training.data import (
    ASSUMED_OUTPUT_TOKENS,
    Dataset,
    Example,
    cost_matrix,
    load_jsonl,
    score_matrix,
)
from routeiq_sidecar.training.splits import resolve_split, split_dataset

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def _row(i: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"r{i}",
        "prompt": f"prompt number {i}",
        "scores": {"a": 1, "b": 0.0},
        "category": f"cat{i % 5}",
        "source": "unit",
    }
    row.update(over)
    return row


def _write(tmp_path: Path, lines: list[str], name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _jsonl(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    return _write(tmp_path, [json.dumps(r) for r in rows])


def _dataset(rows: list[dict[str, Any]], tmp_path: Path) -> Dataset:
    return load_jsonl(_jsonl(tmp_path, rows))


# ---------------------------------------------------------------------------------------- loader


def test_loads_fields_extras_and_models(tmp_path: Path) -> None:
    rows = [
        _row(0, scores={"b": 1, "a": None, "c": 0.5}, label="b", split="train"),
        _row(1, scores={"a": 0}),
    ]
    ds = _dataset(rows, tmp_path)
    assert len(ds) == 2
    assert ds.models == ("a", "b", "c")  # sorted union, null-only "a" on row 0 still from row 1
    first = ds.examples[0]
    assert isinstance(first, Example)
    assert first.scores == {"b": 1.0, "c": 0.5}  # null dropped
    assert first.split == "train"
    assert first.extras == {"label": "b"}
    assert first.costs is None
    assert ds.examples[1].split is None
    assert ds.prompts == ["prompt number 0", "prompt number 1"]


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = _write(tmp_path, [json.dumps(_row(0)), "", "   ", json.dumps(_row(1))])
    assert [ex.id for ex in load_jsonl(path)] == ["r0", "r1"]
    bad = _write(tmp_path, [json.dumps(_row(0)), "", "{oops"], name="bad.jsonl")
    with pytest.raises(RouteIQError, match=rf"{bad}:3: malformed JSON"):
        load_jsonl(bad)


def test_limit(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [_row(i) for i in range(10)])
    assert len(load_jsonl(path, limit=3)) == 3


def test_missing_id_defaults_to_file_and_line(tmp_path: Path) -> None:
    row = _row(0)
    del row["id"], row["category"]
    ds = _dataset([row], tmp_path)
    assert ds.examples[0].id == "d.jsonl:1"
    assert ds.examples[0].category == ""


def test_cost_usd_is_taken_as_is(tmp_path: Path) -> None:
    ds = _dataset([_row(0, cost_usd={"a": 0.001, "b": None})], tmp_path)
    assert ds.examples[0].costs == {"a": 0.001}
    np.testing.assert_array_equal(cost_matrix(ds, ["a", "b"]), [[0.001, np.nan]])


def test_cost_from_token_prices(tmp_path: Path) -> None:
    prices = {"a": {"input": 0.2, "output": 0.4}, "b": {"input": 1.0, "output": 1.0}}
    ds = _dataset([_row(0, prompt="0123456789", cost_per_1M_tokens=prices)], tmp_path)
    costs = ds.examples[0].costs
    assert costs is not None
    # ceil(10 chars / 4) = 3 input tokens, 256 output tokens
    assert ASSUMED_OUTPUT_TOKENS == 256
    assert costs["a"] == pytest.approx((3 * 0.2 + 256 * 0.4) / 1e6)
    assert costs["b"] == pytest.approx((3 * 1.0 + 256 * 1.0) / 1e6)
    assert ds.examples[0].extras["cost_per_1M_tokens"] == prices


BAD_ROWS: list[tuple[str, Any, str, str]] = [
    ("missing prompt", {"id": "x", "scores": {"a": 1}}, "prompt", "missing 'prompt'"),
    ("empty prompt", _row(9, prompt="  "), "prompt", "empty 'prompt'"),
    ("non-string prompt", _row(9, prompt=3), "prompt", "must be a string"),
    ("missing scores", {"id": "x", "prompt": "p"}, "scores", "missing 'scores'"),
    ("null scores", _row(9, scores=None), "scores", "missing 'scores'"),
    ("scores not an object", _row(9, scores=[1, 0]), "scores", "must be an object"),
    ("all-null scores", _row(9, scores={"a": None}), "scores", "no numeric value"),
    ("empty scores", _row(9, scores={}), "scores", "no numeric value"),
    ("string score", _row(9, scores={"a": "high"}), "scores", "non-numeric score"),
    ("boolean score", _row(9, scores={"a": True}), "scores", "non-numeric score"),
    ("not an object", [1, 2], "line", "expected a JSON object"),
    ("bad split", _row(9, split=1), "split", "'split' must be a string"),
    ("duplicate id", _row(0), "id", "duplicate id 'r0' (first at line 1)"),
    ("bad cost", _row(9, cost_usd={"a": "cheap"}), "cost_usd", "bad cost"),
    ("bad price", _row(9, cost_per_1M_tokens={"a": 1}), "cost_per_1M_tokens", "bad price"),
]


@pytest.mark.parametrize(
    ("case", "bad", "field", "message"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS]
)
def test_bad_row_names_file_and_line(
    tmp_path: Path, case: str, bad: Any, field: str, message: str
) -> None:
    path = _write(tmp_path, [json.dumps(_row(0)), "", json.dumps(bad), json.dumps(_row(1))])
    with pytest.raises(RouteIQError) as info:
        load_jsonl(path)
    err = info.value
    assert err.kind is ErrorKind.INVALID_ARGUMENT
    assert err.field == field
    assert f"{path}:3:" in err.message
    assert message in err.message


def test_nan_score_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, ['{"prompt": "p", "scores": {"a": NaN}}'])
    with pytest.raises(RouteIQError, match=rf"{path}:1: non-numeric score"):
        load_jsonl(path)


@pytest.mark.parametrize("lines", [[], [""], ["", "   "]], ids=["empty", "blank", "blanks"])
def test_empty_file(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RouteIQError, match="empty file") as info:
        load_jsonl(path)
    assert str(path) in info.value.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RouteIQError) as info:
        load_jsonl(tmp_path / "nope.jsonl")
    assert info.value.kind is ErrorKind.NOT_FOUND


# ------------------------------------------------------------------------------------- matrices


def test_score_matrix_nan_where_missing(tmp_path: Path) -> None:
    ds = _dataset([_row(0, scores={"a": 1, "b": None}), _row(1, scores={"b": 0.5})], tmp_path)
    m = score_matrix(ds, ds.models)
    np.testing.assert_array_equal(m, [[1.0, np.nan], [np.nan, 0.5]])
    assert score_matrix(ds.examples[1:], ["b"]).shape == (1, 1)
    assert np.isnan(cost_matrix(ds, ds.models)).all()


# ---------------------------------------------------------------------------------------- splits


def _ids(ds: Dataset) -> list[str]:
    return [ex.id for ex in ds]


def test_field_split_drops_leaked_test_rows(tmp_path: Path) -> None:
    rows = [
        _row(0, split="train", test_prompt_also_in_train=False),
        _row(1, split="test", test_prompt_also_in_train=False),
        _row(2, split="test", test_prompt_also_in_train=True),
        _row(3, split="train", test_prompt_also_in_train=False),
        _row(4, split="test"),
    ]
    ds = _dataset(rows, tmp_path)
    assert resolve_split(ds, "auto") == "field"
    train, test = split_dataset(ds, "field", seed=0, test_fraction=0.5)
    assert _ids(train) == ["r0", "r3"]
    assert _ids(test) == ["r1", "r4"]
    assert train.models == test.models == ds.models
    assert _ids(split_dataset(ds, "auto")[1]) == ["r1", "r4"]


def test_field_split_needs_split_everywhere(tmp_path: Path) -> None:
    ds = _dataset([_row(0, split="train"), _row(1)], tmp_path)
    with pytest.raises(RouteIQError, match="needs a 'split'"):
        split_dataset(ds, "field", seed=0, test_fraction=0.2)
    assert resolve_split(ds, "auto") == "group"


def test_random_split_deterministic_and_disjoint(tmp_path: Path) -> None:
    ds = _dataset([_row(i) for i in range(50)], tmp_path)
    train, test = split_dataset(ds, "random", seed=3, test_fraction=0.2)
    assert len(test) == 10 and len(train) == 40
    assert set(_ids(train)).isdisjoint(_ids(test))
    assert set(_ids(train)) | set(_ids(test)) == set(_ids(ds))
    again = split_dataset(ds, "random", seed=3, test_fraction=0.2)
    assert (_ids(again[0]), _ids(again[1])) == (_ids(train), _ids(test))
    others = {
        tuple(_ids(split_dataset(ds, "random", seed=s, test_fraction=0.2)[1])) for s in range(5)
    }
    assert len(others) > 1
    assert _ids(test) == sorted(_ids(test), key=lambda i: int(i[1:]))  # file order kept


def test_group_split_holds_out_whole_categories(tmp_path: Path) -> None:
    rows = [_row(i, category=f"subject{i % 10}") for i in range(200)]
    ds = _dataset(rows, tmp_path)
    assert resolve_split(ds, "auto") == "group"
    train, test = split_dataset(ds, "group", seed=1, test_fraction=0.3)
    train_cats = {ex.category for ex in train}
    test_cats = {ex.category for ex in test}
    assert train_cats.isdisjoint(test_cats)
    assert train_cats | test_cats == {f"subject{k}" for k in range(10)}
    assert len(test) == 60  # 3 subjects of 20 rows
    assert set(_ids(train)).isdisjoint(_ids(test)) and len(train) + len(test) == 200
    again = split_dataset(ds, "group", seed=1, test_fraction=0.3)
    assert _ids(again[1]) == _ids(test)
    held = {
        frozenset(ex.category for ex in split_dataset(ds, "group", seed=s, test_fraction=0.3)[1])
        for s in range(6)
    }
    assert len(held) > 1


def test_group_split_keeps_both_sides_non_empty(tmp_path: Path) -> None:
    rows = [_row(i, category="big") for i in range(9)] + [_row(9, category="small")]
    ds = _dataset(rows, tmp_path)
    for frac in (0.01, 0.5, 0.99):
        train, test = split_dataset(ds, "group", seed=0, test_fraction=frac)
        assert len(train) > 0 and len(test) > 0


def test_split_argument_errors(tmp_path: Path) -> None:
    ds = _dataset([_row(i) for i in range(5)], tmp_path)
    with pytest.raises(RouteIQError, match="unknown split method"):
        split_dataset(ds, "kfold", seed=0, test_fraction=0.2)
    with pytest.raises(RouteIQError, match="test_fraction"):
        split_dataset(ds, "random", seed=0, test_fraction=1.0)
    one_cat = _dataset([_row(i, category="x") for i in range(5)], tmp_path)
    with pytest.raises(RouteIQError, match="two categories"):
        split_dataset(one_cat, "group", seed=0, test_fraction=0.2)
    assert resolve_split(one_cat, "auto") == "random"


# ------------------------------------------------------------------------------------- real data

REAL_FILES = {
    "routellm_mmlu.jsonl": (14_042, 2),
    "llmrouter_9models.jsonl": (5_308, 9),
    "routerbench_subset_11models.jsonl": (3_170, 11),
}


@pytest.mark.data
@pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"shared routing data not found at {DATA_DIR}")
@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_files_match_readme(name: str) -> None:
    rows, n_models = REAL_FILES[name]
    ds = load_jsonl(DATA_DIR / name)
    assert len(ds) == rows
    assert len(ds.models) == n_models
    train, test = split_dataset(ds, "auto", seed=0, test_fraction=0.2)
    assert set(_ids(train)).isdisjoint(_ids(test))
    if name == "llmrouter_9models.jsonl":
        assert (len(train), len(test)) == (4_908, 281)  # 400 test minus 119 also in train
        costs = cost_matrix(test, test.models)
        assert np.isfinite(costs).all()
    if name == "routerbench_subset_11models.jsonl":
        assert (len(train), len(test)) == (2_218, 952)
        assert np.isfinite(cost_matrix(ds, ds.models)).all()
    if name == "routellm_mmlu.jsonl":
        assert resolve_split(ds, "auto") == "group"
        assert len({ex.category for ex in ds}) == 57
        assert not math.isnan(score_matrix(test, test.models).mean())
