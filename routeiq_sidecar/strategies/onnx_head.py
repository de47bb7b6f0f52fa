"""A parametric quality head run by onnxruntime (the `mlp` and `mf` strategies).

The graph takes ``x = [embedding, structural features the head was trained with]`` and returns
``quality`` ``[batch, n_models]`` (contract in training/onnx_export.py). One small session per
head, one intra-op thread: the head is a few matrix products, far below the encoder's cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.base import BundleHeads
from routeiq_sidecar.strategies.features import feature_columns
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.trained import TrainedStrategy, head_models


class OnnxHead:
    def __init__(self, path: Path, models: tuple[str, ...], features: tuple[str, ...]) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.models = models
        self.features = features
        self._cols = feature_columns(features)
        self.input_dim = int(self.session.get_inputs()[0].shape[1])
        out_dim = self.session.get_outputs()[0].shape[1]
        if out_dim != len(models):
            raise BundleError(f"head {path.name}: {out_dim} outputs for {len(models)} models")

    def inputs(self, embeddings: np.ndarray, features: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [np.asarray(embeddings, np.float32), np.asarray(features, np.float32)[:, self._cols]],
            axis=1,
        )

    def predict(self, embeddings: np.ndarray, features: np.ndarray) -> np.ndarray:
        out = self.session.run(["quality"], {"x": self.inputs(embeddings, features)})[0]
        return np.asarray(out, dtype=np.float64)


def onnx_head_strategy(
    bundle: BundleHeads, index: ModelIndex, name: str
) -> TrainedStrategy | None:
    spec: dict[str, Any] | None = bundle.head(name)
    if spec is None:
        return None
    head = OnnxHead(bundle.file(spec["file"]), head_models(bundle, spec),
                    tuple(str(f) for f in spec.get("features", [])))
    if head.input_dim != bundle.embedding_dim + len(head.features):
        raise BundleError(
            f"bundle {bundle.path}: head {spec['file']} takes {head.input_dim} inputs, expected "
            f"{bundle.embedding_dim} (encoder) + {len(head.features)} (features)"
        )
    return TrainedStrategy(name, head, index)
