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
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "embedding"
BATCH_AXIS = "batch"
SEQ_AXIS = "seq"

# Added to the attention scores of padding keys. Large enough that exp() underflows to exactly
# 0 in float32, small enough that score + bias never overflows to -inf (so a row whose keys are
# all padding still gives a finite, uniform softmax instead of NaN).
MASK_BIAS = -1.0e9


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_hf_json(cls, path: str | Path) -> BertConfig:
        """Read a Hugging Face ``config.json`` of a ``bert`` model (absolute positions, GELU)."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        model_type = raw.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"{path}: model_type {model_type!r} is not 'bert'")
        act = raw.get("hidden_act", "gelu")
        if act != "gelu":
            raise ValueError(f"{path}: hidden_act {act!r} is not supported (only exact 'gelu')")
        pos = raw.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise ValueError(f"{path}: position_embedding_type {pos!r} is not supported")
        return cls(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_layers=int(raw["num_hidden_layers"]),
            num_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_position_embeddings=int(raw.get("max_position_embeddings", 512)),
            type_vocab_size=int(raw.get("type_vocab_size", 2)),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------


def _normalise_key(key: str) -> str:
    """``bert.encoder...`` -> ``encoder...``; TF-era ``LayerNorm.gamma/beta`` -> ``weight/bias``."""
    key = key.removeprefix("bert.")
    if key.endswith("LayerNorm.gamma"):
        key = key[: -len("gamma")] + "weight"
    elif key.endswith("LayerNorm.beta"):
        key = key[: -len("beta")] + "bias"
    return key


def load_safetensors_weights(path: str | Path) -> dict[str, np.ndarray]:
    """Load a ``model.safetensors`` as float32 arrays under normalised BertModel key names.

    Non-float buffers (``embeddings.position_ids``) and heads that are not part of the encoder
    (``pooler.*``, ``cls.*``) are dropped.
    """
    from safetensors.numpy import load_file

    out: dict[str, np.ndarray] = {}
    for raw_key, arr in load_file(str(path)).items():
        key = _normalise_key(raw_key)
        if not (key.startswith("embeddings.") or key.startswith("encoder.")):
            continue
        if not np.issubdtype(arr.dtype, np.floating):
            continue
        out[key] = np.ascontiguousarray(arr, dtype=np.float32)
    return out


def _layer_prefix(i: int) -> str:
    return f"encoder.layer.{i}."


def expected_weight_shapes(cfg: BertConfig) -> dict[str, tuple[int, ...]]:
    """Every key ``build_encoder`` reads, with its shape (nn.Linear weights are ``[out, in]``)."""
    h, f = cfg.hidden_size, cfg.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, h),
        "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for i in range(cfg.num_layers):
        p = _layer_prefix(i)
        for name in ("query", "key", "value"):
            shapes[f"{p}attention.self.{name}.weight"] = (h, h)
            shapes[f"{p}attention.self.{name}.bias"] = (h,)
        shapes[f"{p}attention.output.dense.weight"] = (h, h)
        shapes[f"{p}attention.output.dense.bias"] = (h,)
        shapes[f"{p}attention.output.LayerNorm.weight"] = (h,)
        shapes[f"{p}attention.output.LayerNorm.bias"] = (h,)
        shapes[f"{p}intermediate.dense.weight"] = (f, h)
        shapes[f"{p}intermediate.dense.bias"] = (f,)
        shapes[f"{p}output.dense.weight"] = (h, f)
        shapes[f"{p}output.dense.bias"] = (h,)
        shapes[f"{p}output.LayerNorm.weight"] = (h,)
        shapes[f"{p}output.LayerNorm.bias"] = (h,)
    return shapes


def check_weights(weights: dict[str, np.ndarray], cfg: BertConfig) -> None:
    """Raise ``ValueError`` naming every missing key or wrong shape."""
    problems: list[str] = []
    for key, shape in expected_weight_shapes(cfg).items():
        if key not in weights:
            problems.append(f"missing {key}")
        elif tuple(weights[key].shape) != shape:
            problems.append(f"{key}: shape {tuple(weights[key].shape)} != expected {shape}")
    if problems:
        raise ValueError("weights do not match the config: " + "; ".join(problems))


def random_bert_weights(cfg: BertConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights under the real key names, for fast tests of the exporter.

    Scales are chosen so the tiny model is *not* degenerate: embeddings have unit variance,
    linear layers ~ N(0, 1/fan_in) so activations stay O(1) and attention is far from uniform,
    and biases / LayerNorm affine params are non-trivial so a bug in any of them shows.
    """
    rng = np.random.default_rng(seed)

    def normal(shape: tuple[int, ...], std: float) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    out: dict[str, np.ndarray] = {}
    for key, shape in expected_weight_shapes(cfg).items():
        if key.endswith("LayerNorm.weight"):
            out[key] = (1.0 + normal(shape, 0.1)).astype(np.float32)
        elif key.endswith("LayerNorm.bias"):
            out[key] = normal(shape, 0.1)
        elif key.startswith("embeddings."):
            out[key] = normal(shape, 1.0)
        elif key.endswith(".bias"):
            out[key] = normal(shape, 0.1)
        else:  # Linear weight [out, in]; the query gets a larger scale for peaky attention
            std = (3.0 if ".query." in key else 1.0) / math.sqrt(shape[1])
            out[key] = normal(shape, std)
    return out


# --------------------------------------------------------------------------------------------
# graph construction
# --------------------------------------------------------------------------------------------


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
        p = _layer_prefix(i)
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
        producer_name="routeiq_sidecar.export.onnx_bert",
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


def quantize_int8(
    src_path: str | Path, dst_path: str | Path, *, quantize_embeddings: bool = True
) -> Path:
    """Dynamic int8 quantization of the fp32 encoder with onnxruntime; returns ``dst_path``.

    Settings, chosen by measuring all-MiniLM-L6-v2 against its own fp32 export (cosine of
    the embeddings, min / mean, texts run one at a time; 58 varied sentences of the parity
    corpus, and 312 README lines + random-word strings; see ``bench/encoder_parity.py``):

    * QInt8 per-tensor                        0.849 / 0.941                     58.5 MB
    * QUInt8 per-tensor                       0.919 / 0.974                     58.5 MB
    * QInt8 per-channel                       0.964 / 0.988  (312: 0.977 / 0.989)  58.6 MB
    * QUInt8 per-channel                      0.964 / 0.991  (312: 0.984 / 0.991)  58.6 MB
    * QUInt8 per-channel + word embeddings    0.983 / 0.992  (312: 0.979 / 0.991)  23.5 MB  <-

    * ``weight_type=QUInt8``: better than QInt8 here, and portable: u8 activations x s8
      weights can saturate the 16-bit intermediate sums of AVX2 CPUs without VNNI (the machine
      measured on), u8 x u8 kernels cannot.
    * ``per_channel=True``: one scale per output column. The largest column of a MiniLM
      projection is 2-7x the median one (7.4x in layer 0's FFN), so one per-tensor scale
      wastes most of the 8 bits on the typical column.
    * Only the weight MatMuls (Q/K/V/attention-out/FFN-in/FFN-out) are quantized; the two
      activation x activation MatMuls of attention (QK^T, probs.V) stay fp32.
    * ``quantize_embeddings`` (default on) also quantizes the word-embedding ``Gather``: the
      table is ~47 of the 90 MB, and quantizing it costs < 0.001 of mean cosine.
    * No ``quant_pre_process``: it gave identical cosines for this graph.
    * The activations are quantized per tensor at run time (that is what "dynamic" means);
      that, not the weights, is where the remaining error comes from - no single layer or
      projection type dominates it. It also makes int8 output depend on the batch: the scale
      of a padded batch covers every text (and pad position) in it, so the same text batched
      with others gave cosine >= 0.959 to itself run alone (fp32 is batch-invariant to 1e-7).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src_path, dst_path = Path(src_path), Path(dst_path)
    model = onnx.load(str(src_path), load_external_data=False)
    nodes = [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul" and node.input[1].endswith(".weight_t")
    ]
    op_types = ["MatMul"]
    if quantize_embeddings:
        op_types.append("Gather")
        nodes += [
            node.name
            for node in model.graph.node
            if node.op_type == "Gather" and node.input[0] == "embeddings.word_embeddings.weight"
        ]
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.addFilter(_drop_preprocess_hint)
    try:
        quantize_dynamic(
            src_path,
            dst_path,
            op_types_to_quantize=op_types,
            nodes_to_quantize=nodes,
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QUInt8,
        )
    finally:
        root.removeFilter(_drop_preprocess_hint)
    return dst_path


def _drop_preprocess_hint(record: logging.LogRecord) -> bool:
    """onnxruntime logs "Please consider to run pre-processing before quantization" on the root
    logger. Its pre-processing (shape inference + ORT graph optimisation) was measured to change
    nothing for this graph (identical cosines), so the hint is only noise in a server log."""
    return "pre-processing before quantization" not in record.getMessage()
