"""BERT weights for the ONNX exporter: the model's shape (``BertConfig``), a ``model.safetensors``
read into float32 arrays under Hugging Face ``BertModel`` names (``embeddings.word_embeddings.
weight``, ``encoder.layer.{i}.attention.self.query.weight``, ...), and random weights for the tiny
test model. No torch, no transformers, no onnx.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


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


def layer_prefix(i: int) -> str:
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
        p = layer_prefix(i)
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
