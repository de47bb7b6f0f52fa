"""`mlp`: a one-hidden-layer network predicting every trained model's quality from the prompt
embedding and structural features; trained in numpy (training/nn.py), served as ONNX."""

from __future__ import annotations

from typing import TYPE_CHECKING

from routeiq_sidecar.strategies.onnx_head import onnx_head_strategy
from routeiq_sidecar.strategies.trained import TrainedStrategy, cached_strategy

if TYPE_CHECKING:
    from routeiq_sidecar.bundle.loader import LoadedBundle


def mlp_factory(bundle: LoadedBundle) -> TrainedStrategy | None:
    return cached_strategy(bundle, "mlp", lambda: onnx_head_strategy(bundle, "mlp"))
