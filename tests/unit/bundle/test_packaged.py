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
