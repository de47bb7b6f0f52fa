"""Embed training prompts exactly as the server embeds requests, with an on-disk cache.

The server embeds ``select_text(...)`` of a request (clipped to ``text.clip_chars``:
``max_seq_length * 6`` characters); training does the same to each prompt so a head sees the
vectors it will see in production. Texts are batched by length (less padding) and the result
is returned in input order.

The cache is per text: a folder per encoder (keyed by the encoder and tokenizer file hashes and
the sequence length) holding ``.npz`` shards of ``(sha256 of text, vector)``; texts not found
are embedded and written as a new shard. So the train, validation and test rows of a file, and
reruns with other splits or seeds, embed every prompt once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.build import embed_texts
from routeiq_sidecar.model.encoder import TextEncoder
from routeiq_sidecar.text import SelectedText, clip_chars, select_text

EMBED_BATCH = 64


def select_prompts(prompts: Sequence[str], manifest: dict[str, Any]) -> list[SelectedText]:
    """What the server would embed (and derive structural features from) for each prompt."""
    limit = clip_chars(manifest["encoder"])
    return [select_text((), p, limit) for p in prompts]


def encoder_digest(manifest: dict[str, Any], precision: str = "fp32", kind: str = "minilm") -> str:
    """Names the cache folder: the files that make the vectors (``kind`` static: the matrix)."""
    enc, files = manifest["encoder"], manifest["files"]
    onnx_file = enc.get("encoder_int8") if precision == "int8" else enc.get("encoder")
    if kind == "static":
        static = manifest["static"]
        parts = [str(files.get(static["file"], {}).get("sha256", static["file"])),
                 str(files.get(static["tokenizer"], {}).get("sha256", static["tokenizer"])),
                 str(static.get("max_seq_length", "")), "static"]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    parts = [
        str(files.get(onnx_file, {}).get("sha256", onnx_file)),
        str(files.get(enc["tokenizer"], {}).get("sha256", enc["tokenizer"])),
        str(enc.get("max_seq_length", "")),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _embed_sorted(encoder: TextEncoder, texts: list[str], desc: str) -> np.ndarray:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vecs = embed_texts(encoder, [texts[i] for i in order], batch=EMBED_BATCH, desc=desc)
    out = np.empty_like(vecs)
    out[np.asarray(order, dtype=np.int64)] = vecs
    return out


def _read_shards(folder: Path, dim: int) -> dict[str, np.ndarray]:
    known: dict[str, np.ndarray] = {}
    for shard in sorted(folder.glob("*.npz")):
        try:
            with np.load(shard, allow_pickle=False) as z:
                keys, vecs = z["keys"], z["vectors"]
        except (OSError, ValueError, KeyError):
            continue  # a torn or foreign file: ignore it, the texts get embedded again
        if vecs.ndim == 2 and vecs.shape[1] == dim and len(keys) == len(vecs):
            known.update(zip((str(k) for k in keys), vecs, strict=True))
    return known


def _write_shard(folder: Path, keys: list[str], vecs: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256("".join(keys).encode()).hexdigest()[:16]
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    with tmp.open("wb") as fh:
        np.savez(fh, keys=np.asarray(keys), vectors=vecs.astype(np.float32))
    tmp.replace(folder / f"{name}.npz")


def embed_cached(
    encoder: TextEncoder,
    texts: list[str],
    *,
    manifest: dict[str, Any],
    cache_dir: Path | None,
    desc: str = "embedding",
    precision: str = "fp32",
    kind: str = "minilm",
) -> np.ndarray:
    """``(n, dim)`` float32 L2-normalised embeddings of ``texts`` (cached when ``cache_dir``).

    ``precision`` names the encoder file ``encoder`` runs (``fp32``/``int8``) and ``kind`` the
    encoder (``minilm``/``static``, whose vectors do not depend on the precision), for the
    cache key.
    """
    if cache_dir is None:
        return _embed_sorted(encoder, texts, desc).astype(np.float32)
    folder = Path(cache_dir) / encoder_digest(manifest, precision, kind)
    keys = [text_key(t) for t in texts]
    known = _read_shards(folder, encoder.dim) if folder.is_dir() else {}
    missing = sorted({k: i for i, k in enumerate(keys) if k not in known}.items())
    if missing:
        new = _embed_sorted(encoder, [texts[i] for _, i in missing], desc)
        _write_shard(folder, [k for k, _ in missing], new)
        known.update(zip((k for k, _ in missing), new, strict=True))
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)
