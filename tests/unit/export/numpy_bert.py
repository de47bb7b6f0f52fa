"""Plain-numpy reference forward pass: BERT -> mean pooling -> L2 normalisation.

Deliberately independent of the ONNX exporter: it reads the weight dict directly
(``nn.Linear`` layout ``[out, in]``), computes in float64, masks attention by setting padded
keys' scores to ``-inf``, and loops over sentences one at a time with padding stripped, so a
padding bug in the exported graph cannot be mirrored here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), vectorised.

    ``np.vectorize(math.erf)`` is exact but made the MiniLM reference ~10x slower; 1.5e-7 is
    below float32 resolution of the GELU inputs, so the reference stays a float32-exact oracle.
    """
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                       + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def _float64_weights(w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """float64 copies of everything but the (large, row-indexed) word-embedding table."""
    return {
        k: v if k == "embeddings.word_embeddings.weight" else v.astype(np.float64)
        for k, v in w.items()
    }


def encode_one(
    ids: Sequence[int] | np.ndarray, w: dict[str, np.ndarray], cfg: Any
) -> np.ndarray:
    """Embedding of one unpadded token sequence (every token attended), float64 [hidden]."""
    return encode_many([ids], w, cfg)[0]


def encode_many(
    seqs: Sequence[Sequence[int] | np.ndarray], w: dict[str, np.ndarray], cfg: Any
) -> np.ndarray:
    """Embeddings of unpadded token sequences, one forward pass each, float64 [n, hidden]."""
    w64 = _float64_weights(w)
    return np.stack([_forward(np.asarray(ids, dtype=np.int64), w64, cfg) for ids in seqs])


def _forward(ids: np.ndarray, w: dict[str, np.ndarray], cfg: Any) -> np.ndarray:
    n = len(ids)
    eps = float(cfg.layer_norm_eps)
    nh = int(cfg.num_heads)
    hd = int(cfg.hidden_size) // nh

    x = (
        w["embeddings.word_embeddings.weight"][ids].astype(np.float64)
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, w, "embeddings.LayerNorm", eps)

    for i in range(int(cfg.num_layers)):
        p = f"encoder.layer.{i}."
        ctx = np.zeros_like(x)
        q = _linear(x, w, p + "attention.self.query")
        k = _linear(x, w, p + "attention.self.key")
        v = _linear(x, w, p + "attention.self.value")
        for h in range(nh):
            cols = slice(h * hd, (h + 1) * hd)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(hd)
            ctx[:, cols] = _softmax(scores) @ v[:, cols]
        x = _layer_norm(
            x + _linear(ctx, w, p + "attention.output.dense"), w,
            p + "attention.output.LayerNorm", eps,
        )
        ff = _gelu(_linear(x, w, p + "intermediate.dense"))
        x = _layer_norm(x + _linear(ff, w, p + "output.dense"), w, p + "output.LayerNorm", eps)

    pooled = x.mean(axis=0)
    return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def encode_batch(
    input_ids: np.ndarray, attention_mask: np.ndarray, w: dict[str, np.ndarray], cfg: Any
) -> np.ndarray:
    """Right-padded batch -> float32 [batch, hidden]; each row uses only its unmasked tokens.

    With right padding the unmasked tokens are a prefix, so positions match the padded run.
    """
    seqs = []
    for ids, mask in zip(input_ids, attention_mask, strict=True):
        keep = np.asarray(mask).astype(bool)
        assert keep[: keep.sum()].all(), "reference expects right padding"
        seqs.append(np.asarray(ids)[keep])
    return encode_many(seqs, w, cfg).astype(np.float32)


# Parity corpus shared by tests/unit/export/test_bert_export.py and bench/encoder_parity.py:
# short, long (one past the 256-token limit), code, math, non-English, emoji, odd whitespace.
PARITY_SENTENCES: tuple[str, ...] = (
    "hello world",
    "Hi!",
    "ok",
    "?",
    "",
    "This is an example sentence",
    "Each sentence is converted.",
    "The quick brown fox jumps over the lazy dog.",
    "What is the capital of France?",
    "Summarise the attached quarterly report in three bullet points.",
    "Translate 'good morning' into Japanese and explain the politeness level.",
    "Write a haiku about autumn leaves falling on a quiet pond.",
    "Can you help me debug a segfault in my C program?",
    "I need a SQL query that returns the top 5 customers by revenue per region.",
    "Explain the difference between TCP and UDP like I'm five.",
    "What's the weather going to be like tomorrow in Berlin?",
    "My order #48213 hasn't arrived yet, and the tracking page says 'label created'.",
    "Please route this to the cheapest model that can still do arithmetic correctly.",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "const x = await fetch('/api/v1/route', { method: 'POST', body: JSON.stringify(req) });",
    "kubectl -n routeiq rollout restart deployment/sidecar && kubectl get pods -w",
    "Traceback (most recent call last): File \"main.py\", line 3, in <module> ZeroDivisionError",
    "fn main() { let v: Vec<u32> = (1..=10).map(|x| x * x).collect(); println!(\"{:?}\", v); }",
    "<div class=\"card\"><h2>Title</h2><p>Body &amp; more</p></div>",
    "∫_0^1 x^2 dx = 1/3",
    "Prove that the square root of 2 is irrational.",
    "Solve for x: 3x + 7 = 22, then compute x^2 - 4x.",
    "Let f(x) = e^{-x^2}. Compute f'(x) and find its maximum.",
    "If P(A)=0.3 and P(B|A)=0.5, what is P(A ∩ B)?",
    "det([[1, 2], [3, 4]]) = -2",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Dónde está la biblioteca más cercana?",
    "Je voudrais réserver une table pour deux personnes ce soir.",
    "Это предложение написано на русском языке.",
    "東京は日本の首都です。",
    "我想学习机器学习，请推荐几本书。",  # noqa: RUF001 (the fullwidth comma is the point)
    "안녕하세요, 만나서 반갑습니다.",
    "مرحبا، كيف حالك اليوم؟",
    "यह एक हिंदी वाक्य है।",
    "Café déjà vu — 東京",
    "Ελληνικά: η γρήγορη καφέ αλεπού",
    "I love this so much 😍🔥🔥",
    "🚀🚀🚀 to the moon",
    "👍",
    "Great job team 🎉 — shipping v2.3.1 today!",
    "   leading and trailing whitespace   ",
    "ALL CAPS SENTENCE WITH SHOUTING!!!",
    "tHiS iS wEiRd CaSiNg",
    "https://example.com/path?query=1&foo=bar#frag",
    "email me at someone@example.org or call +1 (555) 010-9999",
    "a a a a a a a a a a a a a a a a a a a a",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "The mitochondria is the powerhouse of the cell, producing ATP through oxidative "
    "phosphorylation across the inner membrane.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong and Buzz Aldrin walked on the "
    "surface while Michael Collins orbited above in the command module.",
    (
        "Routing decisions for large language model gateways depend on the prompt's domain, "
        "its difficulty, the latency budget and the price of each candidate model. "
    )
    * 3,
    (
        "This paragraph is intentionally very long so that it exceeds the two hundred and "
        "fifty six word piece limit of the encoder and therefore exercises truncation. "
    )
    * 12,
)
