"""bench/transfer_ceiling.py's in-file ceilings on synthetic outcome files whose pair gap is
known: each router family finds the signal it can see and no other."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from routeiq_sidecar.training.data import Dataset, Example
from routeiq_sidecar.training.transfer import Loaded

BENCH = Path(__file__).resolve().parents[3] / "bench" / "transfer_ceiling.py"


def bench() -> ModuleType:
    if str(BENCH.parent) not in sys.path:  # the script imports its sibling transfer_args.py
        sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("transfer_ceiling", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def synthetic(n: int = 600, seed: int = 0, signal: str = "text") -> Loaded:
    """Models ``s`` (strong) and ``w`` (weak) and a witness ``o``; the strong model wins where
    the embedding's first coordinate is positive (``signal`` "text") or where the witness
    scores 1 (``signal`` "witness", the embedding then pure noise). Prompt lengths carry
    nothing."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    witness = rng.random(n) < 0.5
    wins = emb[:, 0] > 0 if signal == "text" else witness
    examples = []
    for i in range(n):
        strong = 1.0 if wins[i] else float(rng.random() < 0.5)
        weak = 0.0 if wins[i] else strong
        examples.append(Example(id=str(i), prompt=f"prompt {i} " + "x" * int(rng.integers(5, 50)),
                                scores={"s": strong, "w": weak, "o": float(witness[i])},
                                category=f"task{i % 3}"))
    ds = Dataset(tuple(examples), ("o", "s", "w"))
    tokens = rng.integers(5, 200, n).astype(np.float64)
    return Loaded("synthetic", Path("synthetic.jsonl"), ds, emb.astype(np.float32), tokens,
                  np.zeros((n, 3)), rng.normal(size=(n, 13)), np.ones(n, bool))


def test_text_routers_find_a_gap_the_embedding_carries() -> None:
    mod = bench()
    r = mod.ceiling(synthetic(signal="text"), seed=0)
    assert (r["strong"], r["weak"], r["n"]) == ("s", "w", 600)
    # the strong model wins exactly where the first coordinate is positive: the oracle's order
    assert r["best"]["knn"]["apgr"] > r["oracle"] - 0.02
    assert r["best"]["ridge text"]["apgr"] > r["oracle"] - 0.02
    assert abs(r["length"] - 0.5) < 0.1 and abs(r["best"]["task"]["apgr"] - 0.5) < 0.1
    assert abs(r["best"]["other models"]["apgr"] - 0.5) < 0.1  # the witness is unrelated
    assert r["oracle"] > 0.7


def test_only_the_other_models_see_a_gap_the_text_does_not_carry() -> None:
    mod = bench()
    r = mod.ceiling(synthetic(signal="witness"), seed=0)
    assert r["oracle"] > 0.7
    assert r["best"]["other models"]["apgr"] > r["oracle"] - 0.02
    assert r["best"]["text + other models"]["apgr"] > r["oracle"] - 0.02
    assert abs(r["best"]["knn"]["apgr"] - 0.5) < 0.1
    assert abs(r["best"]["ridge text"]["apgr"] - 0.5) < 0.1


def test_a_text_and_its_duplicates_fall_in_one_part() -> None:
    mod = bench()
    texts = ["a", "b", "a", "c", "b", "a", "d", "e"]
    parts = mod.parts_by_text(texts, 3, seed=1)
    for t in set(texts):
        assert len({int(p) for p, x in zip(parts, texts, strict=True) if x == t}) == 1
    assert set(parts.tolist()) <= {0, 1, 2}


def test_the_table_names_the_bar_and_every_family() -> None:
    mod = bench()
    reports = [mod.ceiling(synthetic(signal="text", seed=s), seed=0) for s in (0, 1)]
    text = mod.table(reports)
    assert "issue 13's bar" in text
    for fam in mod.FAMILIES:
        assert f"| {fam} (best cell) |" in text
