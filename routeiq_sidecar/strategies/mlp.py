"""`mlp`: a one-hidden-layer network predicting every trained model's quality from the prompt
embedding and structural features; trained in numpy (training/nn.py), served as ONNX."""

from __future__ import annotations

from routeiq_sidecar.strategies.base import BundleHeads
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.onnx_head import onnx_head_strategy
from routeiq_sidecar.strategies.trained import TrainedStrategy


def load_mlp(bundle: BundleHeads, index: ModelIndex) -> TrainedStrategy | None:
    return onnx_head_strategy(bundle, index, "mlp")
