"""The onnxruntime sentence encoder: tokenize -> run -> (already pooled + normalised) vectors."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort

from routeiq_sidecar.model.tokenizer import BatchTokenizer


@dataclass(frozen=True)
class EncodedBatch:
    vectors: np.ndarray  # (n, dim) float32, L2-normalised
    tokenize_us: int
    embed_us: int


class TextEncoder(Protocol):
    """What the batcher, the signals and training need of an encoder (ONNX or static)."""

    tokenizer: BatchTokenizer
    dim: int

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray: ...

    def encode(self, texts: list[str]) -> EncodedBatch: ...


def timed_encode(encoder: TextEncoder, texts: list[str]) -> EncodedBatch:
    """Tokenise ``texts`` and run the encoder on them, timing each step."""
    t0 = time.perf_counter_ns()
    ids, mask = encoder.tokenizer.encode(texts)
    t1 = time.perf_counter_ns()
    vecs = encoder.run(ids, mask)
    t2 = time.perf_counter_ns()
    return EncodedBatch(vecs, (t1 - t0) // 1000, (t2 - t1) // 1000)


def make_session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads > 0:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # No busy-waiting between runs: on a few cores, spinning onnxruntime threads starve the
    # event loop (and the other workers) that must feed them the next batch.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class Encoder:
    """Synchronous and thread-safe (onnxruntime sessions allow concurrent ``run``)."""

    def __init__(self, onnx_path: Path, tokenizer: BatchTokenizer, threads: int) -> None:
        self.session = make_session(onnx_path, threads)
        self.tokenizer = tokenizer
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    def encode(self, texts: list[str]) -> EncodedBatch:
        return timed_encode(self, texts)
