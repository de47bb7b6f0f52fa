"""train_bundle on a small synthetic file with the tiny random encoder: a verified bundle,
deterministic for a seed, test rows kept out; default pairs, validation score, embedding cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routeiq_sidecar.bundle import manifest as mf
from routeiq_sidecar.bundle.loader import LoadedBundle, load_bundle
from routeiq_sidecar.errors import RouteIQError
from routeiq_sidecar.strategies.knn import KnnHead
from routeiq_sidecar.strategies.registry import build_strategies, with_escalation
from routeiq_sidecar.training.embed import embed_cached
from routeiq_sidecar.training.pairs import ROUTELLM_PAIR, default_pair, mean_pair_apgr
from routeiq_sidecar.training.train import TrainOptions, train_bundle

TOPICS = {
    "math": ("Prove that the sum of the first {i} odd numbers is a square.", (1, 0)),
    "chat": ("Say hello to my friend number {i}.", (1, 1)),
    "code": ("```python\ndef f{i}(x):\n    return x\n```\nFix the bug in f{i}.", (1, 0)),
    "trivia": ("What is the capital of country {i}?", (1, 1)),
}


def write_data(path: Path, n_per_topic: int = 25) -> Path:
    lines = []
    for topic, (template, (strong, weak)) in TOPICS.items():
        for i in range(n_per_topic):
            scores: dict[str, Any] = {"acme/strong": strong, "weak": weak if i % 5 else 1 - weak}
            if i % 7 == 0:
                scores["weak"] = None  # a missing score
            lines.append({"id": f"{topic}-{i}", "prompt": template.format(i=i), "category": topic,
                          "scores": scores,
                          "cost_usd": {"acme/strong": 0.01, "weak": 0.001}})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("data") / "synthetic.jsonl")


def train(data: Path, base: Path, out: Path, **kw: Any) -> dict[str, Any]:
    return train_bundle(TrainOptions(data=data, out=out, base_bundle=base, precision="fp32", **kw))


@pytest.fixture(scope="module")
def trained(data: Path, tiny_bundle_path: Path, tiny_bundle: LoadedBundle,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("trained") / "bundle"
    m = train_bundle(TrainOptions(data=data, out=out, base_bundle=tiny_bundle_path, split="group",
                                  aliases={"strong-alias": "acme/strong"}, precision="fp32"),
                     base=tiny_bundle)
    return out, m


def test_bundle_is_verified_and_complete(trained: tuple[Path, dict[str, Any]]) -> None:
    out, m = trained
    assert mf.verify(out)["version"] == m["version"]
    # only the serving precision's encoder (this fixture trains on fp32 embeddings)
    assert {"encoder.onnx", "tokenizer.json", "centroids.npz", "knn.npz",
            "mlp.onnx", "mf.onnx", "static.npy", "centroids.static.npz"} == set(m["files"])
    assert "encoder_int8" not in m["encoder"] and m["training"]["encoder_precision"] == "fp32"
    assert set(m["static"]["heads"]) == {"centroid"}  # minilm training: static heads untouched
    assert m["models"] == ["acme/strong", "weak"]
    assert m["aliases"] == {"strong-alias": "acme/strong"}
    assert m["default_strategy"] in {"knn", "mlp", "mf", "ensemble"}
    ens = m["heads"]["ensemble"]
    assert len(ens["members"]) >= 2 and set(ens["members"]) <= {"knn", "mlp", "mf"}
    assert sum(ens["weights"]) == pytest.approx(1.0) and "file" not in ens
    assert m["heads"]["centroid"]["file"] == "centroids.npz"
    assert m["heads"]["mlp"]["file"] == "mlp.onnx" and m["heads"]["mlp"]["models"] == m["models"]
    t = m["training"]
    assert t["data"] == "synthetic.jsonl" and t["seed"] == 0 and len(t["data_sha256"]) == 64
    assert t["encoder_precision"] == "fp32"
    assert t["split"]["method"] == "group"
    assert t["split"]["n_train"] + t["split"]["n_test"] == 100
    assert m["pair"] == {"strong": "acme/strong", "weak": "weak"}
    assert set(m["model_stats"]) == {"acme/strong", "weak"}


def test_test_rows_stay_out_of_the_heads(trained: tuple[Path, dict[str, Any]]) -> None:
    out, m = trained
    spec = m["heads"]["knn"]
    head = KnnHead.load(out / spec["file"], k=spec["k"], temperature=spec["temperature"],
                        shrink=spec["shrink"])
    assert head.embeddings.shape[0] == m["training"]["split"]["n_train"] < 100


def test_trained_bundle_loads_with_its_strategies(trained: tuple[Path, dict[str, Any]]) -> None:
    b = load_bundle(trained[0])
    strategies = build_strategies(b)
    assert strategies.known_models == ("acme/strong", "weak")
    trained_heads = strategies.trained()
    assert {"knn", "mlp", "mf", "ensemble"} <= set(trained_heads)
    ens = trained_heads["ensemble"]
    members = [trained_heads[n].head for n in b.manifest["heads"]["ensemble"]["members"]]
    emb = np.eye(1, b.encoder.dim, dtype=np.float32)
    feats = np.zeros((1, 5), np.float32)
    want = np.mean([h.predict(emb, feats) for h in members], axis=0)
    assert ens.head.predict(emb, feats) == pytest.approx(want)


def test_same_seed_same_bundle_other_seed_other_heads(
    data: Path, tiny_bundle_path: Path, tiny_bundle: LoadedBundle, tmp_path: Path,
    trained: tuple[Path, dict[str, Any]],
) -> None:
    _, first = trained
    again = train_bundle(TrainOptions(data=data, out=tmp_path / "a", base_bundle=tiny_bundle_path,
                                      split="group", aliases={"strong-alias": "acme/strong"},
                                      precision="fp32"),
                         base=tiny_bundle)
    for f in ("knn.npz", "mlp.onnx", "mf.onnx"):
        assert again["files"][f]["sha256"] == first["files"][f]["sha256"], f
    other = train_bundle(TrainOptions(data=data, out=tmp_path / "b", base_bundle=tiny_bundle_path,
                                      split="group", seed=1, strategies=("mlp",),
                                      precision="fp32"),
                         base=tiny_bundle)
    assert other["files"]["mlp.onnx"]["sha256"] != first["files"]["mlp.onnx"]["sha256"]


def test_strategy_subset_and_no_split(data: Path, tiny_bundle_path: Path,
                                      tiny_bundle: LoadedBundle, tmp_path: Path) -> None:
    m = train_bundle(TrainOptions(data=data, out=tmp_path / "k", base_bundle=tiny_bundle_path,
                                  strategies=("knn",), split="none", precision="fp32"),
                     base=tiny_bundle)
    assert set(m["heads"]) == {"centroid", "knn"} and m["default_strategy"] == "knn"
    assert m["training"]["split"]["n_test"] == 0 and m["training"]["split"]["n_train"] == 100


def test_static_encoder_heads(data: Path, tiny_bundle_path: Path, tmp_path: Path) -> None:
    """--encoder static: heads fitted on the static vectors, in the static table only."""
    m = train(data, tiny_bundle_path, tmp_path / "s", split="group", strategies=("knn", "mlp"),
              encoder="static")
    static = m["static"]
    assert set(static["heads"]) == {"centroid", "knn", "mlp", "ensemble"}
    assert static["heads"]["knn"]["file"] == "static.knn.npz"
    assert static["heads"]["mlp"]["file"] == "static.mlp.onnx"
    assert static["default_strategy"] in {"knn", "mlp", "ensemble"}
    assert set(m["heads"]) == {"centroid"} and m["default_strategy"] == "centroid"
    assert m["training"]["encoder"] == "static"
    assert set(m["report"]) == {"knn", "mlp", "ensemble"}
    b = load_bundle(tmp_path / "s", encoder="static")
    assert b.kind == "static" and b.default_strategy == static["default_strategy"]
    knn = build_strategies(b).trained()["knn"].head
    assert knn.embeddings.shape[1] == b.encoder.dim == static["dim"]  # type: ignore[attr-defined]
    minilm = load_bundle(tmp_path / "s")  # the MiniLM view has no trained head
    assert build_strategies(minilm).trained() == {}


def test_cascade_trains_both_encoders(data: Path, tiny_bundle_path: Path, tmp_path: Path) -> None:
    m = train(data, tiny_bundle_path, tmp_path / "c", split="group", strategies=("knn",),
              encoder="cascade")
    assert set(m["heads"]) == {"centroid", "knn"} and m["heads"]["knn"]["file"] == "knn.npz"
    assert set(m["static"]["heads"]) == {"centroid", "knn"}
    assert set(m["training"]["validation"]["scores_by_encoder"]) == {"static", "minilm"}
    assert m["report"] == m["report_by_encoder"]["static"]  # the tier that answers first
    b = load_bundle(tmp_path / "c", encoder="cascade")
    assert b.kind == "static" and b.escalation is not None and b.escalation.kind == "minilm"
    both = with_escalation(b)
    assert both.escalation is not None
    for view, strategies in ((b, both), (b.escalation, both.escalation)):
        knn = strategies.trained()["knn"].head
        assert knn.embeddings.shape[1] == view.encoder.dim  # type: ignore[attr-defined]


def test_training_on_a_trained_bundle_replaces_its_heads(
    trained: tuple[Path, dict[str, Any]], data: Path, tmp_path: Path
) -> None:
    m = train(data, trained[0], tmp_path / "again", strategies=("mf",), split="random")
    assert set(m["heads"]) == {"centroid", "mf"}  # one head: no ensemble
    assert "knn.npz" not in m["files"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"aliases": {"x": "gpt-9"}}, "not a trained model"),
        ({"strategies": ("knn", "forest")}, "forest"),
        ({"split": "sideways"}, "sideways"),
        ({"encoder": "word2vec"}, "unknown encoder 'word2vec'"),
    ],
)
def test_bad_options(data: Path, tiny_bundle_path: Path, tmp_path: Path,
                     kw: dict[str, Any], message: str) -> None:
    with pytest.raises((RouteIQError, ValueError), match=message):
        train(data, tiny_bundle_path, tmp_path / "x", **kw)
    assert not (tmp_path / "x").exists()


def test_default_pair_rules() -> None:
    scores = np.asarray([[1, 0, 1], [1, 1, 0]], float)
    costs = np.asarray([[5, 1, 1], [5, 1, 1]], float)
    assert default_pair(["a", "b", "c"], scores, costs) == ("a", "b")  # cheapest tie: better
    assert default_pair(["a", "b", "c"], scores, None) == ("a", "b")  # lowest mean, then order
    both = [*ROUTELLM_PAIR, "x"]
    assert default_pair(both, np.ones((2, 3)), None) == ROUTELLM_PAIR


def test_mean_pair_apgr_rewards_knowing_who_fails() -> None:
    rng = np.random.default_rng(0)
    scores = (rng.random((400, 3)) < [0.9, 0.6, 0.3]).astype(float)
    oracle_like = scores + 0.01 * rng.random(scores.shape)
    noise = rng.random(scores.shape)
    assert mean_pair_apgr(oracle_like, scores) > 0.8
    assert abs(mean_pair_apgr(noise, scores) - 0.5) < 0.1


class CountingEncoder:
    def __init__(self, inner: Any) -> None:
        self.inner, self.dim, self.calls = inner, inner.dim, 0

    def encode(self, texts: list[str]) -> Any:
        self.calls += len(texts)
        return self.inner.encode(texts)


def test_embedding_cache_embeds_each_text_once(tiny_bundle: LoadedBundle, tmp_path: Path) -> None:
    enc = CountingEncoder(tiny_bundle.encoder)
    kw = {"manifest": tiny_bundle.manifest, "cache_dir": tmp_path}
    a = embed_cached(enc, ["one", "two", "three"], **kw)  # type: ignore[arg-type]
    b = embed_cached(enc, ["three", "four", "one"], **kw)  # type: ignore[arg-type]
    assert enc.calls == 4
    assert b[0] == pytest.approx(a[2]) and b[2] == pytest.approx(a[0])
    direct = tiny_bundle.encoder.encode(["four"]).vectors[0]
    assert b[1] == pytest.approx(direct, abs=1e-5)
    assert embed_cached(enc, [], **kw).shape == (0, enc.dim)  # type: ignore[arg-type]


def test_eval_static_and_cascade(data: Path, tiny_bundle_path: Path, tmp_path: Path) -> None:
    """eval --encoder static scores the static heads; cascade adds MiniLM's and the cascade's."""
    from routeiq_sidecar.training.evaluate import EvalOptions, evaluate

    out = tmp_path / "both"
    train(data, tiny_bundle_path, out, split="group", strategies=("knn", "mlp"),
          encoder="cascade")
    static, _ = evaluate(EvalOptions(bundle=out, data=data, precision="fp32", encoder="static"))
    assert static["encoder"] == "static" and set(static["pair"]["routers"]) >= {"knn", "mlp"}
    both, _ = evaluate(EvalOptions(bundle=out, data=data, precision="fp32", encoder="cascade",
                                   cascade_margins=(0.0, 0.1)))
    assert both["pair"] == static["pair"]  # the static tier's report
    knn = both["cascade"]["strategies"]["knn"]
    assert knn["static"] == static["pair"]["routers"]["knn"]
    assert knn["cascade@0"]["apgr"] == knn["static"]["apgr"]  # never escalates
    assert knn["cascade@0"]["escalated_mean"] == 0.0
    assert 0.0 <= knn["cascade@0.1"]["escalated_mean"] <= 1.0
    assert set(knn["minilm"]) == {"apgr", "cpt50", "cpt80"}
    with pytest.raises(RouteIQError, match="unknown encoder 'glove'"):
        evaluate(EvalOptions(bundle=out, data=data, encoder="glove"))
    only_minilm = tmp_path / "m"
    train(data, tiny_bundle_path, only_minilm, split="group", strategies=("knn",))
    with pytest.raises(RouteIQError, match=r"no trained head .* for the static encoder"):
        evaluate(EvalOptions(bundle=only_minilm, data=data, precision="fp32", encoder="static"))


def test_difficulty_head_per_encoder(tmp_path: Path, tiny_bundle_path: Path) -> None:
    """--strategy difficulty fits one head per encoder trained (cascade: both)."""
    a = write_data(tmp_path / "a.jsonl", 15)
    b = write_data(tmp_path / "b.jsonl", 10)
    m = train_bundle(TrainOptions(data=(a, b), out=tmp_path / "d", base_bundle=tiny_bundle_path,
                                  strategies=("difficulty",), split="none", precision="fp32",
                                  encoder="cascade"))
    assert m["heads"]["difficulty"]["file"] == "difficulty.npz"
    assert m["static"]["heads"]["difficulty"]["file"] == "static.difficulty.npz"
    assert m["default_strategy"] == m["static"]["default_strategy"] == "difficulty"
    b_ = load_bundle(tmp_path / "d", encoder="cascade")
    both = with_escalation(b_)
    assert both.escalation is not None
    assert "difficulty" in both.by_name and "difficulty" in both.escalation.by_name
    only = train_bundle(TrainOptions(data=(a, b), out=tmp_path / "s", strategies=("difficulty",),
                                     base_bundle=tiny_bundle_path, split="none", precision="fp32",
                                     encoder="static"))
    assert "difficulty" not in only["heads"] and "difficulty" in only["static"]["heads"]
