"""The default bundle's trained category head answers /v1/classify (REST, real server on port
0): clear prompts get their category under MiniLM and the static encoder; a bundle without the
head keeps the prototype centroids; ``eval --categories`` prints the table and confusion
matrix. The prompts are written for this test (not in the prototypes)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.bundle import packaged
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.bundle.prototypes import load_prototypes
from routeiq_sidecar.cli import main
from tests.conftest import make_settings

pytestmark = pytest.mark.minilm

CLEAR = {
    "math": "A farmer has 17 sheep and buys 3 pens that each hold 8 sheep. How many more sheep "
            "can he buy so that every pen is full?",
    "code": "Write a TypeScript function that groups an array of orders by customer id and "
            "returns the total amount per customer.",
    "creative_writing": "Write a short story about an old clockmaker who builds a clock that "
                        "runs backwards.",
    "translation": "Please translate this into German: 'Our office will be closed on Monday "
                   "for the public holiday.'",
}


def test_the_prompts_are_not_prototypes() -> None:
    protos = {p for ps in load_prototypes().categories.values() for p in ps}
    assert not set(CLEAR.values()) & protos


def test_built_bundles_carry_the_shipped_category_head(minilm_bundle: LoadedBundle) -> None:
    assert packaged.category_available()
    entry = minilm_bundle.head("category")
    assert entry is not None and entry["file"] == packaged.CATEGORY_FILES["minilm"]
    assert [f["data"] for f in entry["files"]] == [
        "routellm_mmlu.jsonl", "llmrouter_9models.jsonl", "routerbench_subset_11models.jsonl"]
    assert minilm_bundle.classifier.category_source == "trained"


# The static encoder's head tells maths word problems from reasoning ones less well (its
# math recall on the held-out split is lower, docs/benchmarks.md): it is asked the other three.
@pytest.mark.parametrize("encoder, cases", [
    ("minilm", tuple(CLEAR)), ("static", ("code", "creative_writing", "translation"))])
async def test_classify_gives_the_trained_category(
    minilm_bundle_path: Path, tmp_path: Path, encoder: str, cases: tuple[str, ...]
) -> None:
    bundle = load_bundle(minilm_bundle_path, encoder=encoder)
    assert bundle.classifier.category_source == "trained"
    sc = Sidecar(make_settings(tmp_path, encoder=encoder), bundle=bundle)
    await sc.start()
    try:
        async with httpx.AsyncClient() as c:
            for want in cases:
                prompt = CLEAR[want]
                r = await c.post(f"http://127.0.0.1:{sc.http_port}/v1/classify",
                                 json={"prompt": prompt})
                assert r.status_code == 200, r.text
                sig = r.json()["signals"]
                assert sig["category"] == want, (prompt, sig["category_scores"])
                assert set(sig["category_scores"]) == set(load_prototypes().categories)
    finally:
        await sc.stop()


def test_a_bundle_without_the_head_keeps_the_centroids(tiny_bundle: LoadedBundle) -> None:
    assert tiny_bundle.head("category") is None  # shipped heads fit MiniLM only
    assert tiny_bundle.classifier.category_source == "centroid"


def test_eval_categories_prints_the_table_and_confusion_matrix(
    minilm_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "toy.jsonl"
    rows = [(CLEAR["math"], "gsm8k"), (CLEAR["code"], "mbpp"),
            ("Which gas do plants take in for photosynthesis?", "arc_easy")]
    data.write_text("".join(json.dumps({"id": str(i), "prompt": p, "scores": {"m": 1},
                                        "category": t}) + "\n" for i, (p, t) in enumerate(rows)))
    code = main(["eval", "--categories", "--data", str(data), "--bundle", str(minilm_bundle_path),
                 "--home", str(tmp_path / "home"), "--encoder-precision", "int8"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| toy (never trained on) | trained head | 3 |" in out
    assert "Confusion matrix (rows: true, columns: predicted):" in out
    assert "| toy:gsm8k | 1 | math |" in out
