"""Dynamic int8 quantization of the fp32 encoder graph (onnxruntime's quantizer)."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx


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
