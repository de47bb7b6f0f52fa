"""A small ONNX model written straight to protobuf bytes, for onnxruntime to load.

Serving never imports the ``onnx`` package (tests/unit/test_serving_imports.py): it is the
exporter's, and slow to import. The int8 neighbour scan (strategies/scan.py) builds its graph
at load time from a head's rows, so it writes the few ``ModelProto`` fields it needs here
(field numbers from onnx.proto3; tests/unit/strategies/test_onnx_wire.py reads the bytes back
with ``onnx`` and checks them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

FLOAT, UINT8, INT8, INT32, INT64 = 1, 2, 3, 6, 7  # TensorProto.DataType
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int8): INT8,
           np.dtype(np.int32): INT32, np.dtype(np.int64): INT64}
_ATTR_INT = 2  # AttributeProto.AttributeType.INT


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("negative varints are not written here")
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(raw)) + raw


def tensor(name: str, array: np.ndarray) -> bytes:
    """``TensorProto``: dims, data_type, name, raw_data (little-endian)."""
    a = np.asarray(array)  # tobytes() below is in C order (ascontiguousarray would make 0-d 1-d)
    return (b"".join(_int(1, d) for d in a.shape) + _int(2, _DTYPES[a.dtype])
            + _bytes(8, name) + _bytes(9, a.astype(a.dtype.newbyteorder("<")).tobytes()))


def value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """``ValueInfoProto`` of a tensor; a ``str`` dimension is symbolic."""
    dims = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, _int(1, elem_type) + _bytes(2, dims)))


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str],
         ints: Mapping[str, int] | None = None) -> bytes:
    """``NodeProto``; ``ints``: its integer attributes (name, i, type)."""
    attrs = b"".join(_bytes(5, _bytes(1, k) + _int(3, v) + _int(20, _ATTR_INT))
                     for k, v in (ints or {}).items())
    return (b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
            + _bytes(4, op_type) + attrs)


def model(nodes: Sequence[bytes], inputs: Sequence[bytes], outputs: Sequence[bytes],
          initializers: Sequence[bytes], *, opset: int, ir_version: int, name: str) -> bytes:
    """``ModelProto`` bytes: one graph of the default domain at ``opset``."""
    graph = (b"".join(_bytes(1, n) for n in nodes) + _bytes(2, name)
             + b"".join(_bytes(5, t) for t in initializers)
             + b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs))
    return (_int(1, ir_version) + _bytes(2, "routeiq") + _bytes(7, graph)
            + _bytes(8, _bytes(1, "") + _int(2, opset)))
