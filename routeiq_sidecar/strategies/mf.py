"""`mf`: matrix factorisation in the RouteLLM style. The prompt (embedding + structural
features) is projected into the space of learned per-model vectors; quality of model m is
``sigmoid(<projection, v_m> + b_m)``. Trained in numpy (training/nn.py), served as ONNX."""

from __future__ import annotations

from routeiq_sidecar.strategies.base import BundleHeads
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.onnx_head import onnx_head_strategy
from routeiq_sidecar.strategies.trained import TrainedStrategy


def load_mf(bundle: BundleHeads, index: ModelIndex) -> TrainedStrategy | None:
    return onnx_head_strategy(bundle, index, "mf")
