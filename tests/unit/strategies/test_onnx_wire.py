"""The hand-written ONNX bytes are the model ``onnx.helper`` would build, and run."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from routeiq_sidecar.strategies import onnx_wire as wire


def test_the_bytes_read_back_as_the_helper_built_model() -> None:
    rows = np.arange(-12, 12, dtype=np.int8).reshape(4, 6)
    got = onnx.load_from_string(wire.model(
        [wire.node("MatMulInteger", ["q", "rows", "zero"], ["dot"])],
        [wire.value_info("q", wire.UINT8, ["b", 4])],
        [wire.value_info("dot", wire.INT32, ["b", 6])],
        [wire.tensor("rows", rows), wire.tensor("zero", np.asarray(128, np.uint8))],
        opset=17, ir_version=8, name="g"))
    onnx.checker.check_model(got, full_check=True)
    want = helper.make_model(helper.make_graph(
        [helper.make_node("MatMulInteger", ["q", "rows", "zero"], ["dot"])], "g",
        [helper.make_tensor_value_info("q", TensorProto.UINT8, ["b", 4])],
        [helper.make_tensor_value_info("dot", TensorProto.INT32, ["b", 6])],
        [numpy_helper.from_array(rows, "rows"),
         numpy_helper.from_array(np.asarray(128, np.uint8), "zero")]),
        opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="routeiq")
    assert got.graph == want.graph
    assert (got.ir_version, list(got.opset_import)) == (want.ir_version, list(want.opset_import))
    np.testing.assert_array_equal(numpy_helper.to_array(got.graph.initializer[0]), rows)


def test_onnxruntime_runs_the_bytes() -> None:
    rng = np.random.default_rng(0)
    rows = rng.integers(-127, 128, (300, 16)).astype(np.int8)
    # queries below 128, as strategies/scan.py sends them: AVX2's u8 x s8 kernel (no VNNI)
    # saturates pairs of products at int16, so full-range queries are not exact everywhere
    q = rng.integers(0, 128, (3, 300)).astype(np.uint8)
    session = ort.InferenceSession(wire.model(
        [wire.node("MatMulInteger", ["q", "rows", "zero"], ["dot"])],
        [wire.value_info("q", wire.UINT8, ["b", 300])],
        [wire.value_info("dot", wire.INT32, ["b", 16])],
        [wire.tensor("rows", rows), wire.tensor("zero", np.asarray(64, np.uint8))],
        opset=17, ir_version=8, name="g"), providers=["CPUExecutionProvider"])
    want = (q.astype(np.int64) - 64) @ rows.astype(np.int64)
    np.testing.assert_array_equal(session.run(None, {"q": q})[0], want)


def test_integer_attributes_and_float_tensors_read_back() -> None:
    scale = np.asarray([0.5, 2.0], np.float32)
    k = np.asarray([1], np.int64)
    got = onnx.load_from_string(wire.model(
        [wire.node("Cast", ["x"], ["xf"], {"to": wire.FLOAT}),
         wire.node("Mul", ["xf", "scale"], ["y"]),
         wire.node("TopK", ["y", "k"], ["v", "i"], {"axis": 1})],
        [wire.value_info("x", wire.INT32, ["b", 2])],
        [wire.value_info("i", wire.INT64, ["b", 1])],
        [wire.tensor("scale", scale), wire.tensor("k", k)],
        opset=17, ir_version=8, name="g"))
    onnx.checker.check_model(got, full_check=True)
    want = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["xf", "scale"], ["y"]),
         helper.make_node("TopK", ["y", "k"], ["v", "i"], axis=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.INT32, ["b", 2])],
        [helper.make_tensor_value_info("i", TensorProto.INT64, ["b", 1])],
        [numpy_helper.from_array(scale, "scale"), numpy_helper.from_array(k, "k")])
    assert got.graph == want
    session = ort.InferenceSession(got.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.asarray([[3, 1], [1, 3]], np.int32)  # scaled: 1.5, 2.0 and 0.5, 6.0
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], [[1], [1]])
    with pytest.raises(ValueError, match="negative"):
        wire.node("TopK", ["y", "k"], ["v", "i"], {"axis": -1})
