"""Export a trained :class:`~routeiq_sidecar.training.nn.QualityNet` as an ONNX graph.

Graph contract (opset 17, IR 8, float32): input ``x`` ``[batch, dim]`` (the L2-normalised
prompt embedding followed by the head's structural features, see strategies/features.py) ->
output ``quality`` ``[batch, n_models]`` in 0..1. The standardisation ``(x - mean) / scale`` is
folded into the first matrix, so the graph is two (mlp) or two chained (mf) affine maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from routeiq_sidecar.training.nn import QualityNet

INPUT, OUTPUT = "x", "quality"
OPSET, IR_VERSION = 17, 8


def _folded(net: QualityNet, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z @ first`` with ``z = (x - mean) / scale`` as ``x @ w + c``."""
    w = first / net.scale[:, None]
    c = -(net.mean / net.scale) @ first
    return w.astype(np.float32), c.astype(np.float32)


def build_graph(net: QualityNet, name: str) -> onnx.ModelProto:
    p = net.params
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def const(key: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, np.float32), key))
        return key

    def op(kind: str, inputs: list[str], out: str) -> str:
        nodes.append(helper.make_node(kind, inputs, [out], name=out))
        return out

    if net.kind == "mlp":
        w1, c1 = _folded(net, p["w1"])
        h = op("MatMul", [INPUT, const("w1", w1)], "h_mm")
        h = op("Add", [h, const("b1", p["b1"] + c1)], "h_add")
        h = op("Relu", [h], "hidden")
        z = op("MatMul", [h, const("w2", p["w2"])], "out_mm")
        z = op("Add", [z, const("b2", p["b2"])], "logits")
        m = p["w2"].shape[1]
    elif net.kind == "mf":
        wp, cp = _folded(net, p["p"])
        u = op("MatMul", [INPUT, const("proj", wp)], "u_mm")
        u = op("Add", [u, const("proj_bias", cp)], "prompt_vec")
        z = op("MatMul", [u, const("model_vecs_t", p["v"].T)], "out_mm")
        z = op("Add", [z, const("model_bias", p["b"])], "logits")
        m = p["v"].shape[0]
    else:
        raise ValueError(f"unknown head kind {net.kind!r}")
    op("Sigmoid", [z], OUTPUT)
    d = int(net.mean.shape[0])
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", d])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", m])],
        initializer=inits,
    )
    model = helper.make_model(
        graph, producer_name="routeiq-sidecar", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def write_head(net: QualityNet, path: Path, name: str) -> Path:
    path = Path(path)
    onnx.save_model(build_graph(net, name), str(path))
    return path
