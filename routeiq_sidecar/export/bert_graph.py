"""Torch-free export of a BERT sentence encoder (BERT + mean pooling + L2 norm) to ONNX.

The graph is written op by op with :mod:`onnx.helper` from a plain ``{name: np.ndarray}``
weight dict in Hugging Face ``BertModel`` naming (``embeddings.word_embeddings.weight``,
``encoder.layer.{i}.attention.self.query.weight``, ...). No torch, no transformers.

Graph contract (opset 17):

* inputs ``input_ids`` and ``attention_mask``: int64 ``[batch, seq]``, both axes dynamic;
* token type ids are all zero, so row 0 of the token-type table is folded in as a constant;
* ``seq`` must not exceed ``max_position_embeddings`` (the tokenizer truncates well below);
* output ``embedding``: float32 ``[batch, hidden]``, the attention-mask-weighted mean of the
  last hidden states, L2-normalised (what sentence-transformers' Pooling(mean) + Normalize do).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from routeiq_sidecar.export.bert_weights import BertConfig, check_weights, layer_prefix

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "embedding"
BATCH_AXIS = "batch"
SEQ_AXIS = "seq"

# Added to the attention scores of padding keys. Large enough that exp() underflows to exactly
# 0 in float32, small enough that score + bias never overflows to -inf (so a row whose keys are
# all padding still gives a finite, uniform softmax instead of NaN).
MASK_BIAS = -1.0e9


class _GraphBuilder:
    """Collects nodes and initializers; every helper returns the name of its output tensor."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._consts: dict[str, np.ndarray] = {}
        self._counter = 0

    def _name(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, name: str, value: np.ndarray) -> str:
        """Register an initializer; shared constants (``c_*``) may be registered repeatedly."""
        if name in self._consts:
            if not np.array_equal(self._consts[name], value):
                raise ValueError(f"constant {name!r} registered twice with different values")
            return name
        self._consts[name] = value
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs: Any) -> str:
        out = self._name(hint or op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, inputs, [out], name=f"{out}_node", **attrs)
        )
        return out


def _f32(x: float | list[float]) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _i64(x: int | list[int]) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _linear(g: _GraphBuilder, x: str, w: np.ndarray, b: np.ndarray, name: str) -> str:
    """``x @ w.T + b`` for an nn.Linear weight ``w`` of shape ``[out, in]``."""
    wt = g.const(f"{name}.weight_t", np.ascontiguousarray(w.T.astype(np.float32)))
    bias = g.const(f"{name}.bias", b.astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, wt], f"{name}_mm"), bias], f"{name}_out")


def _layer_norm(
    g: _GraphBuilder, x: str, w: np.ndarray, b: np.ndarray, eps: float, name: str
) -> str:
    scale = g.const(f"{name}.weight", w.astype(np.float32))
    bias = g.const(f"{name}.bias", b.astype(np.float32))
    return g.op("LayerNormalization", [x, scale, bias], f"{name}_out", axis=-1, epsilon=eps)


def _embeddings(
    g: _GraphBuilder, weights: dict[str, np.ndarray], cfg: BertConfig, input_ids: str
) -> str:
    """word[input_ids] + position[0..seq) + token_type[0], then LayerNorm -> [B, S, H]."""
    word_table = g.const("embeddings.word_embeddings.weight",
                         weights["embeddings.word_embeddings.weight"])
    pos_table = g.const("embeddings.position_embeddings.weight",
                        weights["embeddings.position_embeddings.weight"])
    type_row0 = g.const("embeddings.token_type_embeddings.row0",
                        weights["embeddings.token_type_embeddings.weight"][0])
    word = g.op("Gather", [word_table, input_ids], "word_emb", axis=0)  # [B, S, H]

    # positions 0..seq-1 are the first `seq` rows of the table: Slice(table, [0], [seq], axes=[0])
    seq_len = g.op("Shape", [input_ids], "seq_len", start=1, end=2)  # int64 [1]
    zero = g.const("c_zero_1d", _i64([0]))
    pos = g.op("Slice", [pos_table, zero, seq_len, zero], "pos_emb")  # [S, H]

    x = g.op("Add", [word, pos], "emb_word_pos")
    x = g.op("Add", [x, type_row0], "emb_sum")
    return _layer_norm(
        g, x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"],
        cfg.layer_norm_eps, "embeddings.LayerNorm",
    )


def _attention_bias(g: _GraphBuilder, mask_f: str) -> str:
    """attention_mask (float [B, S]) -> additive bias [B, 1, 1, S]: 0 for tokens, -1e9 for pads."""
    mask4 = g.op("Unsqueeze", [mask_f, g.const("c_axes_1_2", _i64([1, 2]))], "mask4")
    inverted = g.op("Sub", [g.const("c_one_f", _f32(1.0)), mask4], "mask_inv")
    return g.op("Mul", [inverted, g.const("c_mask_bias", _f32(MASK_BIAS))], "attn_bias")


def _split_heads(g: _GraphBuilder, x: str, cfg: BertConfig, perm: list[int], hint: str) -> str:
    """[B, S, H] -> [B, S, nh, hd] -> transpose by ``perm``."""
    heads_shape = g.const("c_heads_shape", _i64([0, 0, cfg.num_heads, cfg.head_dim]))
    return g.op("Transpose", [g.op("Reshape", [x, heads_shape], f"{hint}_4d")], hint, perm=perm)


def _self_attention(
    g: _GraphBuilder, weights: dict[str, np.ndarray], cfg: BertConfig, x: str, bias: str, p: str
) -> str:
    def lin(name: str, inp: str) -> str:
        return _linear(g, inp, weights[f"{p}{name}.weight"], weights[f"{p}{name}.bias"], p + name)

    q = _split_heads(g, lin("attention.self.query", x), cfg, [0, 2, 1, 3], f"{p}q")  # B,nh,S,hd
    k = _split_heads(g, lin("attention.self.key", x), cfg, [0, 2, 3, 1], f"{p}kT")  # B,nh,hd,S
    v = _split_heads(g, lin("attention.self.value", x), cfg, [0, 2, 1, 3], f"{p}v")  # B,nh,S,hd

    scores = g.op("MatMul", [q, k], f"{p}scores")
    scale = g.const("c_attn_scale", _f32(1.0 / math.sqrt(cfg.head_dim)))
    scores = g.op("Add", [g.op("Mul", [scores, scale], f"{p}scaled"), bias], f"{p}masked")
    probs = g.op("Softmax", [scores], f"{p}probs", axis=-1)
    ctx = g.op("MatMul", [probs, v], f"{p}ctx")  # B,nh,S,hd
    ctx = g.op("Transpose", [ctx], f"{p}ctx_t", perm=[0, 2, 1, 3])  # B,S,nh,hd
    merged_shape = g.const("c_merged_shape", _i64([0, 0, cfg.hidden_size]))
    ctx = g.op("Reshape", [ctx, merged_shape], f"{p}ctx_merged")

    out = lin("attention.output.dense", ctx)
    out = g.op("Add", [out, x], f"{p}attn_residual")
    return _layer_norm(
        g, out, weights[f"{p}attention.output.LayerNorm.weight"],
        weights[f"{p}attention.output.LayerNorm.bias"], cfg.layer_norm_eps,
        f"{p}attention.output.LayerNorm",
    )


def _gelu(g: _GraphBuilder, x: str, hint: str) -> str:
    """Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    scaled = g.op("Mul", [x, g.const("c_inv_sqrt2", _f32(1.0 / math.sqrt(2.0)))], f"{hint}_s")
    one = g.const("c_one_f", _f32(1.0))
    one_plus = g.op("Add", [g.op("Erf", [scaled], f"{hint}_erf"), one], f"{hint}_1p")
    half_x = g.op("Mul", [x, g.const("c_half", _f32(0.5))], f"{hint}_hx")
    return g.op("Mul", [half_x, one_plus], hint)


def _feed_forward(
    g: _GraphBuilder, weights: dict[str, np.ndarray], cfg: BertConfig, x: str, p: str
) -> str:
    h = _linear(g, x, weights[f"{p}intermediate.dense.weight"],
                weights[f"{p}intermediate.dense.bias"], f"{p}intermediate.dense")
    h = _gelu(g, h, f"{p}gelu")
    out = _linear(g, h, weights[f"{p}output.dense.weight"], weights[f"{p}output.dense.bias"],
                  f"{p}output.dense")
    out = g.op("Add", [out, x], f"{p}ffn_residual")
    return _layer_norm(
        g, out, weights[f"{p}output.LayerNorm.weight"], weights[f"{p}output.LayerNorm.bias"],
        cfg.layer_norm_eps, f"{p}output.LayerNorm",
    )


def _mean_pool_l2(g: _GraphBuilder, x: str, mask_f: str) -> str:
    """sum(x * m) / max(sum(m), 1e-9), then x / max(||x||_2, 1e-12) -> [B, H]."""
    m3 = g.op("Unsqueeze", [mask_f, g.const("c_axes_2", _i64([2]))], "mask3")  # B,S,1
    axis1 = g.const("c_axes_1", _i64([1]))
    summed = g.op("ReduceSum", [g.op("Mul", [x, m3], "masked_hidden"), axis1], "sum_hidden",
                  keepdims=0)  # B,H
    count = g.op("ReduceSum", [m3, axis1], "token_count", keepdims=0)  # B,1
    count = g.op("Max", [count, g.const("c_count_floor", _f32(1e-9))], "token_count_c")
    mean = g.op("Div", [summed, count], "mean_pooled")

    sq = g.op("ReduceSum", [g.op("Mul", [mean, mean], "sq"), axis1], "sq_sum", keepdims=1)
    norm = g.op("Max", [g.op("Sqrt", [sq], "l2"), g.const("c_norm_floor", _f32(1e-12))], "l2_c")
    return g.op("Div", [mean, norm], "normalized")


def build_encoder(weights: dict[str, np.ndarray], cfg: BertConfig) -> onnx.ModelProto:
    """BERT encoder + mean pooling + L2 normalisation as a checked opset-17 ONNX model."""
    check_weights(weights, cfg)
    g = _GraphBuilder()

    mask_f = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    bias = _attention_bias(g, mask_f)
    x = _embeddings(g, weights, cfg, "input_ids")
    for i in range(cfg.num_layers):
        p = layer_prefix(i)
        x = _self_attention(g, weights, cfg, x, bias, p)
        x = _feed_forward(g, weights, cfg, x, p)
    pooled = _mean_pool_l2(g, x, mask_f)
    g.nodes.append(helper.make_node("Identity", [pooled], [OUTPUT_NAME], name="output_node"))

    dyn = [BATCH_AXIS, SEQ_AXIS]
    graph = helper.make_graph(
        g.nodes,
        "bert_mean_pool_l2",
        inputs=[helper.make_tensor_value_info(n, TensorProto.INT64, dyn) for n in INPUT_NAMES],
        outputs=[
            helper.make_tensor_value_info(
                OUTPUT_NAME, TensorProto.FLOAT, [BATCH_AXIS, cfg.hidden_size]
            )
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="routeiq_sidecar.export.bert_graph",
        doc_string=json.dumps({"bert_config": cfg.to_dict(), "pooling": "mean", "normalize": True}),
    )
    model.ir_version = 8  # opset 17 needs IR >= 8; keeps the file loadable by onnxruntime >= 1.14
    onnx.checker.check_model(model, full_check=True)
    return model


def write_encoder(weights: dict[str, np.ndarray], cfg: BertConfig, path: str | Path) -> Path:
    """Build, check and save the fp32 encoder to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(build_encoder(weights, cfg), str(path))
    return path
