"""`mf`: matrix factorisation in the RouteLLM style. The prompt (embedding + structural
features) is projected into the space of learned per-model vectors; quality of model m is
``sigmoid(<projection, v_m> + b_m)``. Trained in numpy (training/nn.py), served as ONNX."""

from __future__ import annotations

from typing import TYPE_CHECKING

from routeiq_sidecar.strategies.onnx_head import onnx_head_strategy
from routeiq_sidecar.strategies.trained import TrainedStrategy, cached_strategy

if TYPE_CHECKING:
    from routeiq_sidecar.bundle.loader import LoadedBundle


def mf_factory(bundle: LoadedBundle) -> TrainedStrategy | None:
    return cached_strategy(bundle, "mf", lambda: onnx_head_strategy(bundle, "mf"))
