"""train -> serve -> route on a small real-data sample: the CLI trains a bundle from
../shared/data, the sidecar serves it over REST and gRPC (in-process and as `serve --bundle`),
trained strategies are selectable, unknown models fall back to priors, `eval` prints its JSON,
and bad data files fail with the file and line."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar._proto.routeiq.v1 import router_pb2_grpc as pb_grpc
from routeiq_sidecar.app import Sidecar
from routeiq_sidecar.bundle.loader import load_bundle
from routeiq_sidecar.cli import main
from routeiq_sidecar.strategies.features import structural_features
from routeiq_sidecar.strategies.priors import price_prior
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.strategies.trained import TrainedStrategy
from routeiq_sidecar.text import clip_chars, select_text
from tests.conftest import DATA, make_settings, start_server_process, stop_server_process

LLMROUTER = DATA / "llmrouter_9models.jsonl"
MMLU = DATA / "routellm_mmlu.jsonl"
SKIP_NO_DATA = pytest.mark.skipif(
    not LLMROUTER.is_file(), reason=f"routing data absent: {DATA} (see ../shared/data/README.md)"
)

KNOWN = {"id": "qwen", "model": "nvidia_nim/Qwen2.5-7B-Instruct",  # case + provider prefix
         "input_cost_per_mtok": 0.2, "output_cost_per_mtok": 0.2}
ALIASED = {"id": "nemo", "model": "big-nemotron", "input_cost_per_mtok": 0.9,
           "output_cost_per_mtok": 0.9}
WITH_PRIOR = {"id": "mystery", "model": "acme/mystery-1", "quality_prior": 0.42}
PRICED = {"id": "pricey", "model": "vendor/unknown-xl", "input_cost_per_mtok": 10,
          "output_cost_per_mtok": 30}
CANDIDATES = [KNOWN, ALIASED, WITH_PRIOR, PRICED]
PROMPT = "Write a Python function that returns the n-th Fibonacci number."


def sample(src: Path, dest: Path, every: int) -> Path:
    """Every ``every``-th line of ``src``: a small sample that spans tasks and splits."""
    with src.open() as fh:
        lines = [line for i, line in enumerate(fh) if i % every == 0]
    dest.write_text("".join(lines))
    return dest


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def trained(tiny_bundle_path: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, Path, Path, dict[str, Any]]:
    if not LLMROUTER.is_file():
        pytest.skip(f"routing data absent: {DATA} (see ../shared/data/README.md)")
    tmp = tmp_path_factory.mktemp("trained")
    data = sample(LLMROUTER, tmp / "llmrouter_sample.jsonl", every=18)  # ~295 rows
    out = tmp / "bundle"
    args = ["train", "--data", str(data), "--bundle", str(tiny_bundle_path), "--home", str(tmp),
            "--out", str(out), "--split", "field", "--alias",
            "big-nemotron=llama-3.1-nemotron-51b-instruct"]
    with pytest.MonkeyPatch.context() as mp:
        import io
        import sys

        buf = io.StringIO()
        mp.setattr(sys, "stdout", buf)
        assert main(args) == 0
    return out, data, tmp, json.loads(buf.getvalue())


@SKIP_NO_DATA
def test_train_prints_a_summary(trained: tuple[Path, Path, Path, dict[str, Any]]) -> None:
    out, _, _, summary = trained
    assert summary["bundle"] == str(out) and len(summary["models"]) == 9
    assert summary["default_strategy"] in {"knn", "mlp", "mf", "ensemble"}
    assert summary["split"]["method"] == "field" and summary["split"]["n_test"] > 0
    assert set(summary["heads"]) == {"knn", "mlp", "mf", "ensemble"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["encoder_precision"] == "int8"  # the server's default encoder
    # only the serving precision's encoder is copied from the base bundle; readable by others
    enc = manifest["encoder"]
    assert "encoder" not in enc and (out / enc["encoder_int8"]).is_file()
    assert not (out / "encoder.onnx").exists()  # the fp32 file of the base bundle
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def check_ranking(body: dict[str, Any], strategy: str) -> dict[str, dict[str, Any]]:
    assert body["strategy"] == strategy, body
    by_id = {r["candidate_id"]: r for r in body["ranking"]}
    assert by_id["qwen"]["quality_source"] == strategy
    assert by_id["nemo"]["quality_source"] == strategy  # via the bundle's alias
    assert by_id["mystery"]["quality_source"] == "prior"
    assert by_id["mystery"]["predicted_quality"] == pytest.approx(0.42)
    assert by_id["pricey"]["quality_source"] == "price"
    blended = (3 * 10 + 30) / 4  # 3:1 input:output blend of the candidate's prices
    assert by_id["pricey"]["predicted_quality"] == pytest.approx(price_prior(blended), abs=1e-6)
    return by_id


@SKIP_NO_DATA
async def test_rest_and_grpc_route_with_each_trained_strategy(
    trained: tuple[Path, Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _, _, summary = trained
    sc = Sidecar(make_settings(tmp_path, bundle=out))
    await sc.start()
    try:
        base = f"http://127.0.0.1:{sc.http_port}"
        async with httpx.AsyncClient() as c:
            info = (await c.get(f"{base}/v1/info")).json()
            assert {"knn", "mlp", "mf", "ensemble", "centroid"} <= set(info["strategies"])
            assert info["default_strategy"] == summary["default_strategy"]
            assert sorted(info["known_models"]) == sorted(summary["models"])
            for strategy in ("knn", "mlp", "mf", "ensemble"):
                r = await c.post(f"{base}/v1/route", json={
                    "prompt": PROMPT, "candidates": CANDIDATES, "strategy": strategy})
                assert r.status_code == 200, r.text
                check_ranking(r.json(), strategy)
            r = await c.post(f"{base}/v1/route", json={"prompt": PROMPT, "candidates": CANDIDATES})
            assert r.json()["strategy"] == summary["default_strategy"]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{sc.grpc_port}") as ch:
            stub = pb_grpc.RouterServiceStub(ch)
            resp = await stub.Route(pb.RouteRequest(
                prompt=PROMPT, strategy="mlp",
                candidates=[pb.Candidate(**c) for c in CANDIDATES]))  # type: ignore[arg-type]
            assert resp.strategy == "mlp"
            sources = {s.candidate_id: s.quality_source for s in resp.ranking}
            assert sources == {"qwen": "mlp", "nemo": "mlp", "mystery": "prior", "pricey": "price"}
    finally:
        await sc.stop()


@SKIP_NO_DATA
async def test_served_quality_is_the_heads_prediction(
    trained: tuple[Path, Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    out = trained[0]
    bundle = load_bundle(out, precision="int8")  # what `train` used: the serving default
    sc = Sidecar(make_settings(tmp_path), bundle=bundle)
    await sc.start()
    try:
        async with httpx.AsyncClient() as c:
            body = (await c.post(f"http://127.0.0.1:{sc.http_port}/v1/route", json={
                "prompt": PROMPT, "candidates": [KNOWN], "strategy": "mlp"})).json()
    finally:
        await sc.stop()
    strat = build_strategies(bundle).by_name["mlp"]
    assert isinstance(strat, TrainedStrategy)
    sel = select_text((), PROMPT, clip_chars())
    emb = bundle.encoder.encode([sel.text]).vectors
    pred = strat.head.predict(emb, structural_features(sel)[None, :])[0]
    col = strat.columns(["qwen2.5-7b-instruct"])[0]
    assert col is not None
    assert body["ranking"][0]["predicted_quality"] == pytest.approx(float(pred[col]), abs=1e-5)


@SKIP_NO_DATA
def test_serve_process_loads_the_trained_bundle(
    trained: tuple[Path, Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    sp = start_server_process("--bundle", str(trained[0]), "--home", str(tmp_path),
                              "--strategy", "knn")
    try:
        r = httpx.post(f"{sp.http}/v1/route", json={"prompt": PROMPT, "candidates": CANDIDATES},
                       timeout=30)
        assert r.status_code == 200, r.text
        check_ranking(r.json(), "knn")
    finally:
        stop_server_process(sp)


@SKIP_NO_DATA
def test_eval_prints_pair_and_quality_cost_json(
    trained: tuple[Path, Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, data, home, _ = trained
    code, stdout, err = run_cli(capsys, "eval", "--json", "--bundle", str(out), "--data", str(data),
                                "--home", str(home))
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["split"].startswith("held-out test rows") and rep["rows"] > 0
    assert rep["encoder_precision"] == "int8" and "warning" not in rep
    for key in ("apgr", "cpt50", "cpt80"):
        assert key in rep
        for part in ("random", "length", "oracle"):
            assert key in rep["pair"][part]
    assert set(rep["pair"]["routers"]) == {"knn", "mlp", "mf", "ensemble"}
    assert rep["pair"]["oracle"]["apgr"] >= rep["pair"]["random"]["apgr"]
    multi = rep["multi"]
    assert {"knn", "mlp", "mf", "ensemble", "length"} == set(multi["routers"])
    assert all(np.isfinite(r["aiq"]) and r["points"] for r in multi["routers"].values())
    assert {"model", "cost", "score"} <= set(multi["best_single"])
    assert multi["oracle"]["aiq"] >= multi["random"]["aiq"]
    code, stdout, err = run_cli(capsys, "eval", "--json", "--bundle", str(out), "--data",
                                str(data), "--home", str(home), "--strategy", "knn", "--split",
                                "all", "--strong", "llama-3.1-8b-instruct", "--weak",
                                "codegemma-7b")
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["split"] == "all rows" and rep["strategies"] == ["knn"]
    assert rep["pair"]["strong"] == "llama-3.1-8b-instruct"
    # the bundle has no fp32 encoder: evaluating (or serving) it at fp32 names the setting
    code, _, err = run_cli(capsys, "eval", "--bundle", str(out), "--data", str(data),
                           "--home", str(home), "--encoder-precision", "fp32")
    assert code != 0 and "encoder_precision=int8" in err


@SKIP_NO_DATA
def test_eval_prints_tables_without_json(
    trained: tuple[Path, Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, data, home, _ = trained
    code, stdout, err = run_cli(capsys, "eval", "--bundle", str(out), "--data", str(data),
                                "--home", str(home))
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].startswith("eval: bundle ") and "rows (held-out test rows" in lines[0]
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["router", "APGR"])
    assert lines[header].split() == ["router", "APGR", "CPT(50)", "CPT(80)"]
    pair_rows = {line.split()[0] for line in lines[header + 2 : header + 9]}
    assert {"knn", "mlp", "mf", "ensemble", "(random)", "(length)", "(oracle)"} <= pair_rows
    assert any(line.split()[:2] == ["router", "AIQ"] for line in lines)
    assert stdout.rstrip().endswith("(--json prints the whole report)")


@SKIP_NO_DATA
def test_eval_plot(trained: tuple[Path, Path, Path, dict[str, Any]],
                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the [plot] extra (matplotlib) is not installed")
    out, data, home, _ = trained
    png = tmp_path / "curves.png"
    code, stdout, err = run_cli(capsys, "eval", "--json", "--bundle", str(out), "--data", str(data),
                                "--home", str(home), "--plot", str(png))
    assert code == 0, err
    assert json.loads(stdout)["plot"] == str(png) and png.stat().st_size > 1000


GOOD = {"prompt": "hi", "scores": {"a": 1, "b": 0}}
BAD_FILES = {
    "malformed": ([GOOD, GOOD, '{"prompt": "x", "scores": '], 3, "malformed JSON"),
    "missing scores": ([GOOD, {"prompt": "no scores"}], 2, "missing 'scores'"),
    "empty prompt": ([GOOD, GOOD, GOOD, {"prompt": "  ", "scores": {"a": 1}}], 4, "empty 'prompt'"),
    "string score": ([{"prompt": "x", "scores": {"a": "good"}}], 1, "non-numeric score"),
    "not an object": ([GOOD, "[1, 2]"], 2, "expected a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["train", "eval"])
def test_bad_data_files_name_the_line(
    case: str, command: str, tmp_path: Path, tiny_bundle_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows, line, message = BAD_FILES[case]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    args = ["--data", str(path), "--bundle", str(tiny_bundle_path), "--home", str(tmp_path)]
    if command == "train":
        args += ["--out", str(tmp_path / "out")]
    code, _, err = run_cli(capsys, command, *args)
    assert code != 0
    assert f"{path}:{line}" in err and message in err, err
    assert not (tmp_path / "out").exists()


def test_missing_data_file_is_a_clear_error(
    tmp_path: Path, tiny_bundle_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "train", "--data", str(tmp_path / "nope.jsonl"), "--bundle",
                           str(tiny_bundle_path), "--out", str(tmp_path / "o"))
    assert code != 0 and "nope.jsonl: no such file" in err


@pytest.mark.minilm
@SKIP_NO_DATA
async def test_minilm_trained_on_mmlu_routes_and_evaluates(
    minilm_bundle_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = sample(MMLU, tmp_path / "mmlu_sample.jsonl", every=47)  # ~300 rows, all subjects
    out = tmp_path / "bundle"
    code, stdout, err = run_cli(capsys, "train", "--data", str(data), "--bundle",
                                str(minilm_bundle_path), "--home", str(tmp_path), "--out",
                                str(out), "--split", "group", "--strategy", "knn,mlp")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["pair"] == {"strong": "gpt-4-1106-preview",
                               "weak": "mistralai/Mixtral-8x7B-Instruct-v0.1"}
    code, stdout, err = run_cli(capsys, "eval", "--json", "--bundle", str(out), "--data", str(data),
                                "--home", str(tmp_path))
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["split"].startswith("held-out") and "multi" not in rep  # no costs in MMLU
    assert all(0.0 <= rep["pair"]["routers"][s]["apgr"] <= 1.5 for s in ("knn", "mlp"))
    sc = Sidecar(make_settings(tmp_path, bundle=out))
    await sc.start()
    try:
        async with httpx.AsyncClient() as c:
            r = await c.post(f"http://127.0.0.1:{sc.http_port}/v1/route", json={
                "prompt": "What is the derivative of x^3 * sin(x)?\nA. 1\nB. 2\nAnswer:",
                "strategy": "knn",
                "candidates": [
                    {"id": "gpt4", "model": "openai/gpt-4-1106-preview",
                     "input_cost_per_mtok": 10, "output_cost_per_mtok": 30},
                    {"id": "mixtral", "model": "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1",
                     "input_cost_per_mtok": 0.6, "output_cost_per_mtok": 0.6},
                ]})
        assert r.status_code == 200, r.text
        assert {s["quality_source"] for s in r.json()["ranking"]} == {"knn"}
    finally:
        await sc.stop()


def test_eval_needs_a_trained_bundle(
    tmp_path: Path, tiny_bundle_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    code, _, err = run_cli(capsys, "eval", "--data", str(path), "--bundle", str(tiny_bundle_path))
    assert code != 0 and "has no trained head" in err
