"""`difficulty`: one prompt-difficulty score learned across outcome files, applied to any
candidate list through model descriptors (no retraining for new models).

Difficulty ``d`` in 0..1 is the `length` baseline's difficulty, ``log(tokens) / log(2048)``,
moved by a k-nearest-neighbour estimate over the stored training prompts (cosine similarity of
the embeddings, ``softmax(sim / temperature)`` weights over the ``k`` nearest) of how much
worse than usual the models of that prompt's file did on it (the per-file z-scored mean
failure rate, so 0/1 correctness, pass rates and judge scores pool)::

    d = clip(log(tokens) / log(2048) + s_len / log(2048) * w / (1 - w) * z(knn), 0, 1)

``s_len`` is the spread of the training prompts' log lengths and ``z(knn)`` the estimate
standardised over the training prompts, so prompts rank exactly as by the blend
``(1 - w) * z(length) + w * z(knn)`` whose ``w``, ``k`` and temperature were picked by the
leave-one-file-out score (bench/transfer.py), while ``d`` keeps the absolute scale of the
`length` strategy (a 20-token question is easy whatever the training prompts looked like).

The similarity gate: where the ``k`` nearest stored prompts are close (their mean cosine at
least ``gate``: in practice the same question, seen in training), the kNN's weight against
length grows by ``gate_weight`` (``w / (1 - w)`` becomes ``w / (1 - w) + gate_weight``), since
there the stored outcomes speak for this very prompt. Both were picked by the
leave-one-file-out score; a head saved without them has no gate.

A candidate's quality is ``1 - d * (1 - ability)``: on an easy prompt every model is near 1
and cost decides; on a hard one quality falls to the model's ability, so stronger models pull
ahead. ``ability`` is the model's descriptor: the candidate's declared ``quality_prior``;
else, for a model the head knows, its price tier (strategies/priors.py: the sent price, else
what its name states, else the unknown price) moved by its learned standing among the models
scored on the same prompts (``standing_shift``: -0.1125 for its file's weakest model to
+0.1125 for its strongest); else, for a sibling of a known model (a model of the same family,
model_names.py, else of the same lineage, another minor release of the family), the same with
the closest-sized sibling's standing (its own size speaks through its price tier); else its
price tier. So unknown models still get cheaper on easy prompts and stronger on hard ones,
what the head learned about a model moves it within its price tier, and a candidate's ability
never depends on the other candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routeiq_sidecar.errors import BundleError
from routeiq_sidecar.model_names import family, lineage, size_billions
from routeiq_sidecar.strategies.base import BundleHeads, QualityEstimate, StrategyInput, unit
from routeiq_sidecar.strategies.baselines import LENGTH_PIVOT_TOKENS
from routeiq_sidecar.strategies.matching import ModelIndex
from routeiq_sidecar.strategies.priors import HIGH_Q, LOW_Q
from routeiq_sidecar.strategies.scan import NeighbourScan
from routeiq_sidecar.types import CandidateSpec

HEAD_FILE = "difficulty.npz"
MATCH_CACHE = 1024  # candidate lists whose model -> head column match is remembered


@dataclass
class DifficultyHead:
    embeddings: np.ndarray  # (n, dim) float32 L2-normalised training prompts
    targets: np.ndarray  # (n,) per-file z-scored failure
    weights: np.ndarray  # (n,) row weights (each file counts the same)
    standard: np.ndarray  # (4,) mean, std of log tokens; mean, std of the knn estimate
    models: tuple[str, ...]  # models with a learned ability
    abilities: np.ndarray  # (m,) 0.50..0.95
    k: int = 10
    temperature: float = 0.05
    blend: float = 0.1
    gate: float = math.inf  # mean cosine of the k nearest at which the kNN gains gate_weight
    gate_weight: float = 0.0

    def __post_init__(self) -> None:
        self.k = max(1, min(int(self.k), self.embeddings.shape[0]))
        self.scan = NeighbourScan(self.embeddings)  # the k nearest rows (strategies/scan.py)
        # per-row arithmetic in Python floats (``neighbour_rows``, ``difficulty_rows``): a
        # decision predicts one to a few prompts, where each numpy call on a (1, k) array costs
        # more than the whole row
        self._weights = np.asarray(self.weights, np.float64).tolist()
        self._targets = np.asarray(self.targets, np.float64).tolist()

    def neighbours(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n,)`` kNN estimates and ``(n,)`` mean cosine of the ``k`` nearest rows."""
        est, close = self.neighbour_rows(embeddings)
        return np.asarray(est, np.float64), np.asarray(close, np.float64)

    def neighbour_rows(self, embeddings: np.ndarray) -> tuple[list[float], list[float]]:
        """``neighbours`` as lists, each prompt's figures from its own row alone (float64):
        ``softmax(sim / temperature)`` weights times the rows' weights, over the ``k``
        nearest, and their mean cosine."""
        idx, top = self.scan.top(np.asarray(embeddings, np.float32), self.k)
        temp, weights, targets = float(self.temperature), self._weights, self._targets
        est, close = [], []
        for rows, sims in zip(idx.tolist(), top.tolist(), strict=True):
            best = max(sims)
            num = den = 0.0
            for r, s in zip(rows, sims, strict=True):
                w = math.exp((s - best) / temp) * weights[r]
                num += w * targets[r]
                den += w
            est.append(num / den if den > 0 else math.nan)
            close.append(math.fsum(sims) / len(sims))
        return est, close

    def knn(self, embeddings: np.ndarray) -> np.ndarray:
        return self.neighbours(embeddings)[0]

    @property
    def uses_knn(self) -> bool:
        return self.blend > 0 or self.gate_weight > 0

    def opens(self, closeness: float) -> bool:
        """The similarity gate opens for one prompt (``gated`` for many)."""
        return closeness >= self.gate

    def gated(self, closeness: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: the prompts the similarity gate opens for."""
        return np.asarray(closeness, np.float64) >= self.gate

    def difficulty(self, embeddings: np.ndarray, tokens: np.ndarray,
                   knn: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``(n,)`` difficulty in 0..1 (``knn``: precomputed ``neighbours``)."""
        rows = None if knn is None else (np.asarray(knn[0]).tolist(), np.asarray(knn[1]).tolist())
        toks = np.asarray(tokens, np.float64).tolist()
        return np.asarray(self.difficulty_rows(embeddings, toks, rows), np.float64)

    def difficulty_rows(self, embeddings: np.ndarray, tokens: list[float],
                        knn: tuple[list[float], list[float]] | None) -> list[float]:
        """``difficulty`` as a list, each prompt from its own row alone (float64)."""
        _, s_len, m_knn, s_knn = (float(v) for v in self.standard)
        if not self.uses_knn:
            z, gains = [0.0] * len(tokens), [0.0] * len(tokens)
        else:
            est, close = self.neighbour_rows(embeddings) if knn is None else knn
            z = [(e - m_knn) / s_knn for e in est]
            gains = [self.gate_weight if self.opens(c) else 0.0 for c in close]
        if self.blend >= 1:  # the kNN part alone (a diagnostic in bench/transfer.py)
            return [0.5 + 0.5 * math.tanh(v) for v in z]
        pivot = math.log(LENGTH_PIVOT_TOKENS)
        ratio = self.blend / (1 - self.blend)
        out = []
        for t, zi, gain in zip(tokens, z, gains, strict=True):
            d = math.log(max(t, 1.0)) / pivot + s_len / pivot * (ratio + gain) * zi
            out.append(0.0 if d < 0.0 else 1.0 if d > 1.0 else d)  # NaN stays NaN
        return out

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, embeddings=self.embeddings.astype(np.float16),
            targets=self.targets.astype(np.float32), weights=self.weights.astype(np.float32),
            standard=self.standard,
            models=np.asarray(self.models, dtype=str), abilities=self.abilities,
            params=np.asarray([self.k, self.temperature, self.blend, self.gate,
                               self.gate_weight], np.float64))

    @classmethod
    def load(cls, path: Path) -> DifficultyHead:
        with np.load(path, allow_pickle=False) as z:
            emb = z["embeddings"].astype(np.float32)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12  # undo float16 rounding
            params = [float(v) for v in z["params"]]
            if len(params) not in (3, 5):
                raise BundleError(f"{path}: difficulty params must hold 3 or 5 numbers")
            k, temperature, blend = params[:3]
            gate, gate_weight = params[3:] if len(params) == 5 else (math.inf, 0.0)
            return cls(emb, z["targets"].astype(np.float64), z["weights"].astype(np.float64),
                       z["standard"].astype(np.float64),
                       tuple(str(m) for m in z["models"]), z["abilities"].astype(np.float64),
                       int(k), temperature, blend, gate, gate_weight)


def quality(difficulty: np.ndarray, abilities: np.ndarray) -> np.ndarray:
    """``(n, m)``: ``1 - d * (1 - ability)`` for every prompt and model."""
    d = np.clip(np.asarray(difficulty, np.float64), 0.0, 1.0)[:, None]
    return np.asarray(1.0 - d * (1.0 - np.asarray(abilities, np.float64)[None, :]))


MID_STANDING = (LOW_Q + HIGH_Q) / 2  # a model in the middle of its training file
# How far a learned standing moves a known model from its price prior: a file's strongest
# model +0.1125, its weakest -0.1125, what a price about 5x higher or lower would move it on
# the prior's scale (0.45 over 2.8 decades of price). A judgement, not fitted: too few training
# files share models to place their standings on one scale (docs/benchmarks.md).
STANDING_WEIGHT = 0.5


def standing_shift(prior: float, standing: float) -> float:
    """A known model's ability: its prior (price, name or unknown price: one scale for every
    candidate) moved by how it stood among the models of its training file (``standing``,
    0.50 for the file's weakest to 0.95 for its strongest). A standing alone is relative to
    its file (the best of nine small open models is 0.95, as GPT-4 is in its file), so it is
    never compared with another candidate's prior as it is."""
    shift = STANDING_WEIGHT * (float(standing) - MID_STANDING)
    return min(HIGH_Q, max(LOW_Q, prior + shift))


class DifficultyStrategy:
    name = "difficulty"
    # Not inline: its kNN scan (0.1-0.35 ms, strategies/scan.py) goes through the coalescer,
    # which runs it in its worker thread whenever another request could wait behind it
    # (ARCHITECTURE.md, "never block the event loop"; engine/coalesce.py).

    def __init__(self, head: DifficultyHead) -> None:
        self.head = head
        self.index = ModelIndex(head.models)
        # by the candidates' models: (head column or None, a known sibling's standing or None)
        self._columns: dict[tuple[str, ...], list[tuple[int | None, float | None]]] = {}
        self._families: dict[str, list[tuple[float, float]]] = {}  # family -> (size, standing)
        self._lineages: dict[str, list[tuple[float, float]]] = {}  # the same by lineage
        for model, ability in zip(head.models, head.abilities.tolist(), strict=True):
            fam, size = family(model), size_billions(model)
            if fam is not None and size is not None:
                self._families.setdefault(fam, []).append((size, float(ability)))
                self._lineages.setdefault(lineage(fam), []).append((size, float(ability)))

    def _sibling(self, model: str) -> float | None:
        """An unknown model's standing: that of the closest-sized sibling the head knows, of
        its family, else of its lineage (another minor release of the family). Its own size
        speaks through its price prior (the sent price, or the one its name states)."""
        fam, size = family(model), size_billions(model)
        if fam is None or size is None:
            return None
        known = self._families.get(fam) or self._lineages.get(lineage(fam))
        if not known:
            return None
        return min(known, key=lambda sa: (abs(math.log2(size / sa[0])), -sa[1]))[1]

    def _match(self, models: tuple[str, ...]) -> list[tuple[int | None, float | None]]:
        cols = self._columns.get(models)
        if cols is None:
            if len(self._columns) >= MATCH_CACHE:
                self._columns.clear()
            cols = self._columns[models] = [
                (col, None if col is not None else self._sibling(m))
                for m, col in zip(models, self.index.columns(models), strict=True)]
        return cols

    def descriptors(self, candidates: Sequence[CandidateSpec], priors: Sequence[float],
                    prior_sources: Sequence[str]) -> tuple[list[float], tuple[str, ...]]:
        """Each candidate's ability and its source, prefixed ``difficulty+``: a declared
        ``quality_prior`` as declared; else, for a model the head knows (or places by a known
        sibling), its own prior (price, name or unknown price) moved by its learned standing
        (``standing_shift``); else the prior. Each depends on the candidate alone, never on
        the rest of the list."""
        out = [float(p) for p in priors]
        sources = list(prior_sources)
        for i, (col, sibling) in enumerate(self._match(tuple(c.model for c in candidates))):
            if sources[i] == "prior":
                continue
            if col is not None:
                out[i], sources[i] = standing_shift(out[i], self.head.abilities[col]), "learned"
            elif sibling is not None:
                out[i], sources[i] = standing_shift(out[i], sibling), "family"
        return out, tuple(f"difficulty+{s}" for s in sources)

    def abilities(self, inp: StrategyInput) -> tuple[list[float], tuple[str, ...]]:
        return self.descriptors(inp.candidates, inp.priors.tolist(), inp.prior_sources)

    def predict(self, inp: StrategyInput) -> QualityEstimate:
        return self.predict_many([inp])[0]

    def predict_many(self, inps: Sequence[StrategyInput]) -> list[QualityEstimate]:
        """``predict`` for several prompts with one kNN scan (engine/coalesce.py)."""
        head = self.head
        emb = (np.stack([inp.embedding for inp in inps]) if len(inps) > 1
               else np.asarray(inps[0].embedding)[None, :])
        tokens = [float(max(1, inp.text.estimated_prompt_tokens)) for inp in inps]
        near = head.neighbour_rows(emb) if head.uses_knn else None
        ds = head.difficulty_rows(emb, tokens, near)
        gated = ([head.opens(c) for c in near[1]] if near is not None and head.gate_weight > 0
                 else [False] * len(inps))
        out = []
        for inp, d, seen in zip(inps, ds, gated, strict=True):
            ability, sources = self.abilities(inp)
            # ``quality`` below for one prompt, in Python floats (the same float64 arithmetic)
            q = [unit(1.0 - d * (1.0 - a)) for a in ability]
            out.append(QualityEstimate(
                quality=np.asarray(q, np.float64),
                sources=sources,
                note=f"difficulty {d:.2f} (learned across outcome files"
                     f"{'; close to stored prompts' if seen else ''})",
            ))
        return out


def load_difficulty(bundle: BundleHeads) -> DifficultyStrategy | None:
    spec = bundle.head("difficulty")
    if spec is None:
        return None
    head = DifficultyHead.load(bundle.file(spec.get("file", HEAD_FILE)))
    if head.embeddings.shape[1] != bundle.embedding_dim:
        raise BundleError(f"bundle {bundle.path}: difficulty width does not match the encoder's")
    return DifficultyStrategy(head)
