"""The default router shipped in the package: present, described, copied into bundles."""

from __future__ import annotations

import json
from pathlib import Path

from routeiq_sidecar.bundle import packaged
from routeiq_sidecar.strategies.difficulty import DifficultyHead


def test_the_package_ships_a_trained_default_router_with_its_provenance() -> None:
    assert packaged.available()
    record = json.loads((packaged.FOLDER / packaged.TRAINING_FILE).read_text())
    names = [f["data"] for f in record["files"]]
    assert names == ["routellm_mmlu.jsonl", "llmrouter_9models.jsonl",
                     "routerbench_subset_11models.jsonl"]  # licensed files only
    assert all(len(f["data_sha256"]) == 64 for f in record["files"])
    assert record["seed"] == 0 and "train" in record["command"]
    head = DifficultyHead.load(packaged.FOLDER / packaged.HEAD_FILE)
    assert head.embeddings.shape[1] == 384 and len(head.models) == len(head.abilities)
    assert head.blend == record["head"]["blend"]


def test_install_copies_the_head_and_describes_it(tmp_path: Path) -> None:
    entry = packaged.install(tmp_path)
    assert entry is not None and entry["file"] == packaged.HEAD_FILE
    assert (tmp_path / packaged.HEAD_FILE).read_bytes() == (
        packaged.FOLDER / packaged.HEAD_FILE).read_bytes()
    assert entry["training"]["seed"] == 0 and "k" in entry


def test_without_a_shipped_head_nothing_is_installed(tmp_path: Path) -> None:
    assert packaged.install(tmp_path, folder=tmp_path / "absent") is None
    assert packaged.digest(tmp_path / "absent") == "none"
    assert len(packaged.digest()) == 12


def test_the_package_ships_a_static_head_for_the_static_recipe(tmp_path: Path) -> None:
    assert packaged.available(kind="static")
    record = json.loads((packaged.FOLDER / packaged.TRAINING_FILES["static"]).read_text())
    recipe = record["static_recipe"]
    assert recipe["dim"] == 256 and recipe["weighting"]["kind"] == "sif-zipf"
    assert "--encoder static" in record["command"]
    head = DifficultyHead.load(packaged.FOLDER / packaged.HEAD_FILES["static"])
    assert head.embeddings.shape[1] == recipe["dim"]
    static = {**recipe, "file": "static.npy", "tokenizer": "tokenizer.json"}
    entry = packaged.install(tmp_path, kind="static", static=static)
    assert entry is not None and entry["file"] == "static.difficulty.npz"
    assert (tmp_path / "static.difficulty.npz").is_file()


def test_a_static_head_is_not_installed_for_another_recipe(tmp_path: Path) -> None:
    record = json.loads((packaged.FOLDER / packaged.TRAINING_FILES["static"]).read_text())
    other = {**record["static_recipe"], "dim": 128}
    assert packaged.install(tmp_path, kind="static", static=other) is None
    assert packaged.install(tmp_path, kind="static", static=None) is None
    assert not (tmp_path / "static.difficulty.npz").exists()


def test_digest_covers_the_static_head(tmp_path: Path) -> None:
    import shutil

    only = tmp_path / "only"
    only.mkdir()
    for name in (packaged.HEAD_FILE, packaged.TRAINING_FILE):
        shutil.copy2(packaged.FOLDER / name, only / name)
    assert packaged.digest(only) != packaged.digest()


def test_the_package_ships_trained_category_heads_with_their_provenance(tmp_path: Path) -> None:
    from routeiq_sidecar.bundle.prototypes import load_prototypes
    from routeiq_sidecar.model.category_head import CategoryHead

    cats = tuple(load_prototypes().categories)
    for kind, dim in (("minilm", 384), ("static", 256)):
        assert packaged.category_available(kind=kind)
        record = json.loads((packaged.FOLDER / packaged.CATEGORY_TRAINING_FILES[kind]).read_text())
        assert [f["data"] for f in record["files"]] == [
            "routellm_mmlu.jsonl", "llmrouter_9models.jsonl", "routerbench_subset_11models.jsonl"]
        assert [f["data"] for f in record["measured_only"]] == ["routerdc_7models.jsonl"]
        assert record["seed"] == 0 and "train_category_head.py" in record["command"]
        assert record["held_out"]["data"]["accuracy"] >= 0.80  # issue 13's target
        head = CategoryHead.load(packaged.FOLDER / packaged.CATEGORY_FILES[kind])
        assert head.categories == cats and head.dim == dim
    entry = packaged.install_category(tmp_path)
    assert entry is not None and entry["file"] == "category.npz" and entry["seed"] == 0
    assert (tmp_path / "category.npz").is_file()
    recipe = json.loads((packaged.FOLDER / packaged.CATEGORY_TRAINING_FILES["static"])
                        .read_text())["static_recipe"]
    assert packaged.install_category(tmp_path, kind="static", static=None) is None
    assert packaged.install_category(tmp_path, kind="static",
                                     static={**recipe, "dim": 128}) is None
    assert packaged.install_category(tmp_path, kind="static", static=recipe) is not None


def test_digest_covers_the_category_heads(tmp_path: Path) -> None:
    import shutil

    for name in (packaged.HEAD_FILE, packaged.TRAINING_FILE, *packaged.HEAD_FILES.values(),
                 *packaged.TRAINING_FILES.values()):
        shutil.copy2(packaged.FOLDER / name, tmp_path / name)
    assert packaged.digest(tmp_path) != packaged.digest()  # the category heads are missing
