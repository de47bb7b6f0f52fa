"""`knn`: predicted quality per model = similarity-weighted mean of the nearest labelled prompts.

The head file (``knn.npz``) holds the L2-normalised training embeddings (float16), their
``(n, n_models)`` score matrix (float32, NaN = not scored) and each model's mean score.
For a prompt: cosine similarity to every stored prompt, the ``k`` nearest, weights
``softmax(similarity / temperature)``; per model, the weighted mean over the neighbours that
have a score for it, shrunk towards the model's mean score by ``shrink`` pseudo-neighbours of
weight ``1/k`` (so one lucky neighbour does not make a certainty). A model no neighbour scored
gets its mean score. ``k``, ``temperature`` and ``shrink`` are chosen at training time on a
validation split (training/fit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.strategies.base import BundleHeads
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.trained import TrainedStrategy, head_models

CHUNK = 512  # query rows per similarity block in batch prediction (bounds memory)
ROW_BLOCK = 1024  # stored rows per matrix product: OpenBLAS goes multi-threaded above ~2k
# rows, which on a busy 2-core host turned a 5 ms scan of 11k prompts into 15-75 ms


@dataclass
class KnnHead:
    models: tuple[str, ...]
    embeddings: np.ndarray  # (n, dim) float32, rows L2-normalised
    scores: np.ndarray  # (n, m) float32, NaN = missing
    means: np.ndarray  # (m,) float64
    k: int = 20
    temperature: float = 0.05
    shrink: float = 1.0

    def __post_init__(self) -> None:
        self.k = max(1, min(int(self.k), self.embeddings.shape[0]))
        self._observed = np.isfinite(self.scores).astype(np.float32)
        self._blocks = [np.ascontiguousarray(self.embeddings[i : i + ROW_BLOCK])
                        for i in range(0, self.embeddings.shape[0], ROW_BLOCK)]
        self._filled = np.nan_to_num(self.scores).astype(np.float32)

    @classmethod
    def from_matrix(cls, models: tuple[str, ...], embeddings: np.ndarray, scores: np.ndarray,
                    **kw: float) -> KnnHead:
        means = np.nanmean(np.where(np.isfinite(scores), scores, np.nan), axis=0)
        return cls(models, np.asarray(embeddings, np.float32), np.asarray(scores, np.float32),
                   np.nan_to_num(means, nan=0.5), **kw)  # type: ignore[arg-type]

    def _block(self, q: np.ndarray) -> np.ndarray:
        sims = np.concatenate([blk @ q.T for blk in self._blocks], axis=0).T  # (b, n)
        k = self.k
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else \
            np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        top = np.take_along_axis(sims, idx, axis=1)
        w = np.exp((top - top.max(axis=1, keepdims=True)) / self.temperature)
        w /= w.sum(axis=1, keepdims=True)
        obs = self._observed[idx]  # (b, k, m)
        num = np.einsum("bk,bkm->bm", w, self._filled[idx] * obs)
        den = np.einsum("bk,bkm->bm", w, obs)
        prior_w = self.shrink / k
        total = den + prior_w
        safe = np.where(total > 1e-12, total, 1.0)
        return np.where(total > 1e-12, (num + prior_w * self.means) / safe, self.means)

    def predict(self, embeddings: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        q = np.asarray(embeddings, np.float32)
        if q.shape[0] == 0:
            return np.zeros((0, len(self.models)))
        return np.concatenate([self._block(q[i : i + CHUNK]) for i in range(0, len(q), CHUNK)])

    def save(self, path: Path) -> None:
        np.savez(path, models=np.asarray(self.models),
                 embeddings=self.embeddings.astype(np.float16),
                 scores=self.scores.astype(np.float32), means=self.means)

    @classmethod
    def load(cls, path: Path, *, k: int, temperature: float, shrink: float) -> KnnHead:
        with np.load(path, allow_pickle=False) as z:
            emb = z["embeddings"].astype(np.float32)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12  # undo float16 rounding
            return cls(tuple(str(m) for m in z["models"]), emb, z["scores"].astype(np.float32),
                       z["means"].astype(np.float64), k, temperature, shrink)


def load_knn(bundle: BundleHeads, index: ModelIndex) -> TrainedStrategy | None:
    spec = bundle.head("knn")
    if spec is None:
        return None
    head = KnnHead.load(bundle.file(spec["file"]), k=int(spec.get("k", 20)),
                        temperature=float(spec.get("temperature", 0.05)),
                        shrink=float(spec.get("shrink", 1.0)))
    if head.models != head_models(bundle, spec):
        raise BundleError(f"bundle {bundle.path}: {spec['file']} models differ from the manifest")
    if head.embeddings.shape[1] != bundle.embedding_dim:
        raise BundleError(f"bundle {bundle.path}: knn width does not match the encoder's")
    return TrainedStrategy("knn", head, index)
