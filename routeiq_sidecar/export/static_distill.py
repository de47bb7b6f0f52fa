"""Distil a static encoder (one vector per vocabulary token) from the bundle's own ONNX encoder.

The model2vec recipe, torch-free and offline, at bundle-build time:

1. every token id of the bundle's tokenizer goes through the fp32 sentence encoder alone,
   wrapped in the tokenizer's special tokens (``[CLS] t [SEP]``), in batches on onnxruntime;
   the encoder's pooled, normalised output is that token's vector;
2. PCA (numpy, centred, eigenvectors of the covariance, signs fixed) reduces the width;
3. each row is scaled by a smooth-inverse-frequency weight ``a / (a + p(t))``, with ``p`` a
   Zipf law over the token's rank; rank = token id. A WordPiece vocabulary is laid out by the
   frequency of its pieces in the tokenizer's training corpus (BERT: specials and
   ``[unused]`` slots, single characters, then words from ``the``, ``of``, ``and`` down), so
   the order is a corpus-wide frequency estimate over the full vocabulary that ships with the
   tokenizer. The project's own prompts (a few hundred prototype prompts) could not rank 30k
   pieces, and the routing data files are not ours to ship or to fit on before measuring;
4. the tokenizer's special tokens ([PAD], [UNK], [CLS], [SEP], [MASK]) get a zero row, so the
   sum over a tokenised prompt is the weighted sum of its real tokens.

The result is one ``(vocab, dims)`` float16 ``.npy`` matrix (``STATIC_FILE``), hashed in the
manifest like every file. Serving (model/static_encoder.py) tokenises with the same tokenizer,
sums the rows and L2-normalises: no transformer pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.model.encoder import make_session
from routeiq_sidecar.progress import progress

STATIC_FILE = "static.npy"
DEFAULT_DIMS = 256
SIF_COEFFICIENT = 1e-4  # model2vec's default: p(t) above ~1e-4 (very common pieces) is damped
BATCH = 512
SPECIAL_NAMES = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _wrapping(tok: Tokenizer) -> tuple[list[int], list[int]]:
    """Ids the tokenizer puts before and after a single text (``[CLS]`` and ``[SEP]``)."""
    ids = tok.encode("", add_special_tokens=True).ids
    if len(ids) != 2:
        raise BundleError(
            f"static distillation expects a '[CLS] $A [SEP]' tokenizer template, "
            f"got {len(ids)} special tokens around an empty text"
        )
    return ids[:1], ids[1:]


def special_ids(tok: Tokenizer) -> list[int]:
    """Token ids that carry no meaning of a prompt: they get a zero row."""
    out = set(_wrapping(tok)[0] + _wrapping(tok)[1])
    out.update(i for i, t in tok.get_added_tokens_decoder().items() if t.special)
    out.update(i for n in SPECIAL_NAMES if (i := tok.token_to_id(n)) is not None)
    return sorted(out)


def token_vectors(
    onnx_path: Path, tokenizer_path: Path, *, threads: int = 0, batch: int = BATCH
) -> np.ndarray:
    """``(vocab, hidden)`` float32: the encoder's output for each token id on its own."""
    tok = Tokenizer.from_file(str(tokenizer_path))
    head, tail = _wrapping(tok)
    vocab = tok.get_vocab_size(with_added_tokens=True)
    session = make_session(onnx_path, threads)
    width = len(head) + 1 + len(tail)
    out = []
    for start in progress(range(0, vocab, batch), desc="static: token vectors", unit="batch"):
        n = min(batch, vocab - start)
        ids = np.empty((n, width), np.int64)
        ids[:, : len(head)] = head
        ids[:, len(head)] = np.arange(start, start + n)
        ids[:, len(head) + 1 :] = tail
        mask = np.ones_like(ids)
        vecs = session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        out.append(np.asarray(vecs, np.float32))
    return np.concatenate(out)


def pca(x: np.ndarray, dims: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of ``x`` projected on its top ``dims`` principal axes (fitted on ``rows`` only).

    Deterministic: eigenvectors of the covariance in float64, each axis's sign chosen so
    that its largest-magnitude coefficient is positive.
    """
    fit = (x if rows is None else x[rows]).astype(np.float64)
    dims = min(dims, x.shape[1])
    mean = fit.mean(axis=0)
    centred = fit - mean
    cov = centred.T @ centred / max(1, len(fit) - 1)
    values, vectors = np.linalg.eigh(cov)
    axes = vectors[:, np.argsort(values)[::-1][:dims]]
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dims)])
    axes *= np.where(signs == 0, 1.0, signs)
    return np.asarray((x.astype(np.float64) - mean) @ axes)


def zipf_sif_weights(vocab: int, coefficient: float = SIF_COEFFICIENT) -> np.ndarray:
    """``a / (a + p(rank))`` with ``p`` Zipf's law over ranks 1..vocab (rank = token id + 1)."""
    inv_rank = 1.0 / np.arange(2, vocab + 2, dtype=np.float64)  # model2vec's offset: rank + 1
    p = inv_rank / inv_rank.sum()
    return np.asarray(coefficient / (coefficient + p))


def distill_static(
    folder: Path,
    enc: dict[str, Any],
    *,
    dims: int = DEFAULT_DIMS,
    threads: int = 0,
    coefficient: float = SIF_COEFFICIENT,
) -> dict[str, Any]:
    """Write ``STATIC_FILE`` into ``folder`` from its fp32 encoder; return its description."""
    folder = Path(folder)
    tok = Tokenizer.from_file(str(folder / enc["tokenizer"]))
    raw = token_vectors(folder / enc["encoder"], folder / enc["tokenizer"], threads=threads)
    zero = special_ids(tok)
    keep = np.ones(len(raw), bool)
    keep[zero] = False
    reduced = pca(raw, dims, keep)
    matrix = reduced * zipf_sif_weights(len(raw), coefficient)[:, None]
    matrix[zero] = 0.0
    np.save(folder / STATIC_FILE, matrix.astype(np.float16), allow_pickle=False)
    return {
        "file": STATIC_FILE,
        "dim": int(matrix.shape[1]),
        "vocab_size": int(matrix.shape[0]),
        "dtype": "float16",
        "tokenizer": enc["tokenizer"],
        "max_seq_length": int(enc["max_seq_length"]),
        "distilled_from": enc["encoder"],
        "source_dim": int(raw.shape[1]),
        "reduction": "pca",
        "weighting": {"kind": "sif-zipf", "rank": "token id", "coefficient": coefficient},
        "zero_rows": [tok.id_to_token(i) or str(i) for i in zero],
        "pooling": "sum of rows",
        "normalize": True,
    }
