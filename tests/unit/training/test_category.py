"""Category head training: the task map, the data, the split, the fit and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routeiq_sidecar.bundle.prototypes import load_prototypes
from routeiq_sidecar.training.category_data import labelled_rows, stratified_split
from routeiq_sidecar.training.category_eval import confusion, markdown, report
from routeiq_sidecar.training.category_fit import fit_head, row_weights
from routeiq_sidecar.training.task_map import UnmappedTask, load_task_map, task_key

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MANIFEST = {"encoder": {"max_seq_length": 256}}


def test_the_task_map_maps_onto_the_prototype_categories() -> None:
    tm = load_task_map()
    assert tm.categories() <= set(load_prototypes().categories)
    assert {"code", "math", "reasoning", "factual_qa", "creative_writing"} <= tm.categories()
    assert tm.category("arc-challenge") == tm.category("arc_challenge") == "factual_qa"
    assert tm.category("GSM8K") == "math" and tm.category("mbpp") == "code"
    assert tm.category("college_computer_science") is None  # mixed: left out
    with pytest.raises(UnmappedTask, match=r"task_categories\.yaml"):
        tm.category("a-task-nobody-mapped")


def test_every_mmlu_subject_is_mapped() -> None:
    tm = load_task_map()
    subjects = [k for k in tm.tasks if k not in {
        "agentverse_logicgrid", "arc_challenge", "commongen", "commonsense_qa", "gpqa",
        "human_eval", "math", "mbpp", "mmlu", "natural_qa", "openbook_qa", "trivia_qa",
        "winogrande", "arc_easy", "ceval", "cmmlu", "gsm8k", "humaneval", "javascript",
        "math_prealgebra"}]
    assert len(subjects) == 57


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder absent ({DATA})")
def test_every_task_label_of_the_shared_files_is_mapped() -> None:
    tm = load_task_map()
    for path in sorted(DATA.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            labels = {json.loads(line)["category"] for line in lines}
        for label in labels:
            tm.category(label)  # raises when a label is missing
        assert task_key("Some-Label") == "some_label"


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w") as fh:
        for i, (prompt, task) in enumerate(rows):
            fh.write(json.dumps({"id": f"r{i}", "prompt": prompt, "scores": {"m": 1},
                                 "category": task}) + "\n")
    return path


def test_labelled_rows_cap_skip_mixed_and_drop_duplicates(tmp_path: Path) -> None:
    rows = [(f"What is {i} + {i}?", "gsm8k") for i in range(10)]
    rows += [("def f(): pass", "mbpp"), ("def f(): pass", "mbpp")]
    rows += [("What does a compiler do?", "college_computer_science")]
    path = _write(tmp_path / "toy.jsonl", rows)
    lab = labelled_rows([path], load_prototypes(), load_task_map(), MANIFEST, cap=4, seed=0)
    data = [g for g in lab.groups if not g.startswith("prototypes:")]
    assert data.count("toy:gsm8k") == 4 and data.count("toy:mbpp") == 1
    assert lab.skipped["over the cap toy:gsm8k"] == 6
    assert lab.skipped["mixed task toy:college_computer_science"] == 1
    assert lab.skipped["duplicate text"] >= 1
    assert len(lab.texts) == len(lab.labels) == len(lab.groups)
    again = labelled_rows([path], load_prototypes(), load_task_map(), MANIFEST, cap=4, seed=0)
    assert again.texts == lab.texts  # seeded


def test_stratified_split_is_deterministic_disjoint_and_per_group() -> None:
    groups = ["a"] * 50 + ["b"] * 10 + ["c"] * 3
    train, held = stratified_split(groups, 0.2, seed=0)
    assert set(train).isdisjoint(held) and len(train) + len(held) == len(groups)
    assert [groups[i] for i in held].count("a") == 10
    assert [groups[i] for i in held].count("b") == 2
    t2, h2 = stratified_split(groups, 0.2, seed=0)
    assert np.array_equal(held, h2) and np.array_equal(train, t2)
    _, h3 = stratified_split(groups, 0.2, seed=1)
    assert not np.array_equal(held, h3)


def test_row_weights_balance_classes_and_groups() -> None:
    y = np.asarray([0] * 90 + [1] * 10)
    groups = ["big"] * 80 + ["small"] * 10 + ["other"] * 10
    w = row_weights(y, groups, 2, balance=1.0)
    assert w.mean() == pytest.approx(1.0)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
    assert w[:80].sum() == pytest.approx(w[80:90].sum())  # groups share their class equally
    natural = row_weights(y, ["g"] * 100, 2, balance=0.0)
    assert np.allclose(natural, 1.0)


def _clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8) * 3
    y = np.repeat(np.arange(3), 40)
    x = centres[y] + rng.normal(scale=0.5, size=(120, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), y, [f"g{c}" for c in y]


@pytest.mark.parametrize("kind, params", [
    ("logreg", {"balance": 1.0, "l2": 1e-3, "steps": 200}),
    ("centroid", {"balance": 1.0, "temperature": 0.05}),
])
def test_fits_are_deterministic_and_separate_clusters(kind: str, params: dict[str, float]) -> None:
    x, y, groups = _clusters()
    cats = ("a", "b", "c")
    h1 = fit_head(kind, x, y, groups, cats, params)
    h2 = fit_head(kind, x, y, groups, cats, params)
    assert np.array_equal(h1.weights, h2.weights) and np.array_equal(h1.bias, h2.bias)
    assert h1.weights.shape == (3, 8) and h1.weights.dtype == np.float32
    assert (np.asarray(h1.logits(x)).argmax(1) == y).mean() > 0.95


def test_unknown_head_kind_refused() -> None:
    x, y, groups = _clusters()
    with pytest.raises(ValueError, match="logreg or centroid"):
        fit_head("svm", x, y, groups, ("a", "b", "c"), {"balance": 1.0})


def test_report_confusion_and_per_class_figures() -> None:
    cats = ("code", "math", "translation")
    y_true = np.asarray([0, 0, 1, 1, 1, 2])
    y_pred = np.asarray([0, 2, 1, 1, 2, 2])
    cm = confusion(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 0, 1], [0, 2, 1], [0, 0, 1]]
    rep = report(y_true, y_pred, cats, ["f:a", "f:a", "f:b", "f:b", "f:b", "f:c"])
    assert rep["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert rep["balanced_accuracy"] == pytest.approx((0.5 + 2 / 3 + 1) / 3, abs=1e-4)
    assert rep["per_class"]["translation"]["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert rep["per_class"]["translation"]["predicted"] == 3
    assert rep["groups"]["f:b"]["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    text = markdown(rep, "toy")
    assert "| translation | 0.333 | 1.000 |" in text and "| math | 0 | 2 | 1 |" in text


def test_prototype_share_sets_the_prototypes_part_of_a_shared_class() -> None:
    y = np.asarray([0] * 30 + [1] * 5)
    groups = ["f:a"] * 20 + ["prototypes:x"] * 10 + ["prototypes:y"] * 5
    w = row_weights(y, groups, 2, balance=1.0, prototype_share=0.25)
    assert w[20:30].sum() == pytest.approx(0.25 * w[:30].sum())
    assert w[30:].sum() == pytest.approx(w[:30].sum())  # a prototype-only class keeps it all
