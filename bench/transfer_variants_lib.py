"""What bench/transfer_variants.py scores: the encoder-text variants, each fold's rows and
scores (training/transfer.py's files and pair, training/metrics.py's APGR), the signals the
variants combine, and the measurements behind the findings of docs/benchmarks.md ("Second
round").
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.model.category_head import CategoryHead
from routeiq_sidecar.strategies.difficulty import DifficultyHead
from routeiq_sidecar.text import CLIP_SEP, clip, clip_chars
from routeiq_sidecar.training.data import cost_matrix, score_matrix
from routeiq_sidecar.training.difficulty import DEFAULTS, failure_target, fit_difficulty
from routeiq_sidecar.training.embed import embed_cached
from routeiq_sidecar.training.metrics import apgr, pair_curve
from routeiq_sidecar.training.pairs import default_pair
from routeiq_sidecar.training.transfer import Loaded, part

TEXTS = ("today", "clip4", "tail4", "lastq")
"""What the encoder is shown: the server's text (``clip`` to 6 chars/token of the encoder's
256 tokens), clipped to 4 chars/token (head 2/3 + tail 1/3, or head 1/3 + tail 2/3), or only
the text after the last answered few-shot block, then clipped to 4 chars/token."""

# a filled few-shot answer: "Answer:" / "A:" / "答案" (either colon, ASCII or full width), a
# short answer, then a blank line
_SHOT_END = re.compile(r"(?:Answer|A|答案)\s*[:\uff1a][ \t]*\n?[ \t]*[^\n]{1,40}\n\s*\n", re.I)


def clip_tail(text: str, max_chars: int, head_share: float = 1 / 3) -> str:
    """Like ``text.clip`` with the head's share of the budget set (``clip`` keeps 2/3)."""
    if len(text) <= max_chars:
        return text
    budget = max_chars - len(CLIP_SEP)
    head = int(budget * head_share)
    return text[:head] + CLIP_SEP + text[-(budget - head):]


def last_question(text: str) -> str:
    """The text after the last filled few-shot answer (the question actually asked); the
    whole text when it has fewer than two such answers or the rest is under 20 chars."""
    ends = list(_SHOT_END.finditer(text))
    if len(ends) < 2:
        return text
    rest = text[ends[-1].end():].strip()
    return rest if len(rest) >= 20 else text


def text_variant(name: str, max_seq_length: int) -> Callable[[str], str]:
    short = 4 * max_seq_length
    return {
        "today": lambda t: clip(t.strip(), clip_chars({"max_seq_length": max_seq_length})),
        "clip4": lambda t: clip(t.strip(), short),
        "tail4": lambda t: clip_tail(t.strip(), short),
        "lastq": lambda t: clip(last_question(t.strip()), short),
    }[name]


def question_key(prompt: str) -> str:
    """A duplicate-question key: the asked question without its options, words only."""
    p = re.sub(r"^Question:", "", last_question(prompt.strip()))
    p = p.split("\nA.")[0].split("\nA)")[0]
    return re.sub(r"\W+", " ", p).strip().lower()[:200]


def with_text(files: Sequence[Loaded], variant: str, bundle: LoadedBundle,
              cache: Path | None, precision: str) -> list[Loaded]:
    """The files with their prompts embedded as ``variant`` shows them (tokens unchanged)."""
    if variant == "today":
        return list(files)
    seq = int(bundle.manifest["encoder"]["max_seq_length"])
    show = text_variant(variant, seq)
    out = []
    for f in files:
        emb = embed_cached(bundle.encoder, [show(p) for p in f.ds.prompts],
                           manifest=bundle.manifest, cache_dir=cache,
                           desc=f"{variant} {f.name}", precision=precision, kind=bundle.kind)
        out.append(replace(f, embeddings=emb))
    return out


@dataclass
class Fold:
    """The left-out file's evaluated rows (training/transfer.py's ``fold``) and pair scores."""

    name: str
    rows: np.ndarray  # bool over the file's rows
    s: np.ndarray
    w: np.ndarray
    lengths: np.ndarray  # prompt characters (the `length` rule)

    def apgr(self, r: np.ndarray, sub: np.ndarray | None = None) -> float:
        if sub is None:
            return apgr(pair_curve(np.asarray(r, np.float64), self.s, self.w))
        return apgr(pair_curve(np.asarray(r, np.float64)[sub], self.s[sub], self.w[sub]))


def make_fold(left: Loaded) -> Fold:
    ds = left.ds
    scores, costs = score_matrix(ds, ds.models), cost_matrix(ds, ds.models)
    strong, weak = default_pair(ds.models, scores[left.test], costs[left.test])
    s, w = ds.models.index(strong), ds.models.index(weak)
    rows = left.test & np.isfinite(scores[:, s]) & np.isfinite(scores[:, w])
    lengths = np.asarray([len(p) for p in ds.prompts], np.float64)[rows]
    return Fold(left.name, rows, scores[rows, s], scores[rows, w], lengths)


@dataclass
class Signals:
    """One fold's per-row signals, from a head fitted on the other files (seed 0, DEFAULTS)."""

    d: np.ndarray  # the shipped difficulty (blend 0.1)
    zk: np.ndarray  # the kNN estimate, z-scored as the head does
    zl: np.ndarray  # log tokens, z-scored as the head does
    top: np.ndarray  # mean cosine of the 10 most similar training prompts


def signals(left: Loaded, others: Sequence[Loaded], fold: Fold) -> tuple[Signals, DifficultyHead]:
    head = fit_difficulty([part(o) for o in others], seed=0, k=int(DEFAULTS["k"]),
                          temperature=DEFAULTS["temperature"], blend=DEFAULTS["blend"],
                          max_rows=int(DEFAULTS["max_rows"]))
    emb, tok = left.embeddings[fold.rows], left.tokens[fold.rows]
    m_len, s_len, m_knn, s_knn = (float(v) for v in head.standard)
    zk = (head.knn(emb) - m_knn) / s_knn
    top = -np.sort(-(emb @ head.embeddings.T), axis=1)[:, :10]
    return Signals(head.difficulty(emb, tok), zk, (np.log(tok) - m_len) / s_len,
                   top.mean(axis=1)), head


def rarity(texts: Sequence[str], bundle: LoadedBundle) -> np.ndarray:
    """Mean log WordPiece id of each text's word tokens (ids from 999 on, whole text, no
    truncation): BERT's vocabulary is ordered roughly by frequency, so higher is rarer words
    (jargon, names, formulas, other scripts)."""
    tok = Tokenizer.from_file(str(bundle.path / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    out = np.full(len(texts), np.log(999.0))
    for i, enc in enumerate(tok.encode_batch(list(texts), add_special_tokens=False)):
        ids = np.asarray(enc.ids)
        words = ids[ids >= 999]
        if len(words):
            out[i] = float(np.log(words).mean())
    return out


def _advantage(scores: np.ndarray) -> np.ndarray:
    """Top half of the file's models (by mean) minus the bottom half, z-scored."""
    order = np.argsort(-np.nanmean(scores, axis=0))
    h = max(len(order) // 2, 1)
    with warnings.catch_warnings():  # rows with no score in one half: NaN, filled below
        warnings.simplefilter("ignore", RuntimeWarning)
        a = np.nanmean(scores[:, order[:h]], 1) - np.nanmean(scores[:, order[-h:]], 1)
    a = np.nan_to_num(a, nan=float(np.nanmean(a)))
    out: np.ndarray = (a - a.mean()) / (a.std() or 1.0)
    return out


def category_prior(cat: CategoryHead, others: Sequence[Loaded], emb: np.ndarray,
                   target: str) -> np.ndarray:
    """Each row's expected ``fail`` (z-scored failure) or ``adv`` (strong advantage) under the
    category head's probabilities; a category's value is its probability-weighted mean over
    the training files, each file counting the same."""
    num = np.zeros(len(cat.categories))
    den = np.zeros_like(num)
    for o in others:
        sc = part(o).scores
        t = failure_target(sc) if target == "fail" else _advantage(sc)
        p = cat.probs(o.embeddings)
        num += (p * t[:, None]).sum(0) / len(t)
        den += p.sum(0) / len(t)
    out: np.ndarray = cat.probs(emb) @ (num / np.maximum(den, 1e-9))
    return out


def raw_failure(scores: np.ndarray) -> np.ndarray:
    """``1 - mean score`` per row, not z-scored (rows with no score: the file's mean)."""
    obs = np.isfinite(scores)
    n = obs.sum(1)
    f = 1 - np.where(obs, scores, 0).sum(1) / np.maximum(n, 1)
    out: np.ndarray = np.where(n > 0, f, np.nanmean(np.where(n > 0, f, np.nan)))
    return out


def raw_knn(head: DifficultyHead, others: Sequence[Loaded], emb: np.ndarray) -> np.ndarray:
    """The kNN over the same memory (the same seeded rows) with the raw failure as target."""
    rng = np.random.default_rng(0)
    raw = []
    for o in others:
        t = raw_failure(part(o).scores)
        keep = np.arange(len(t))
        if len(keep) > DEFAULTS["max_rows"]:
            keep = np.sort(rng.choice(len(keep), int(DEFAULTS["max_rows"]), replace=False))
        raw.append(t[keep])
    return replace(head, targets=np.concatenate(raw)).knn(emb)


def bootstrap_se(fold: Fold, pairs: dict[str, tuple[np.ndarray, np.ndarray]],
                 rng: np.random.Generator, draws: int = 200) -> dict[str, float]:
    """Standard error of ``APGR(a) - APGR(b)`` per named pair, rows resampled ``draws`` times."""
    n = len(fold.s)
    diffs: dict[str, list[float]] = {k: [] for k in pairs}
    for _ in range(draws):
        i = rng.integers(0, n, n)
        for k, (a, b) in pairs.items():
            diffs[k].append(apgr(pair_curve(a[i], fold.s[i], fold.w[i]))
                            - apgr(pair_curve(b[i], fold.s[i], fold.w[i])))
    return {k: float(np.std(v)) for k, v in diffs.items()}


def category_oracle(left: Loaded, fold: Fold) -> tuple[float, list[float]]:
    """APGR ranking rows by their true category's mean strong-minus-weak gap, and the gaps."""
    cats = np.asarray([ex.category for ex in left.ds.examples], object)[fold.rows]
    gap = fold.s - fold.w
    by = {c: float(gap[cats == c].mean()) for c in set(cats)}
    return fold.apgr(np.asarray([by[c] for c in cats])), sorted(by.values())


def difficulty_oracle(left: Loaded, fold: Fold,
                      peaks: Sequence[float]) -> tuple[float, dict[float, float]] | None:
    """Each row's failure rate over the file's other models (the pair left out): APGR of
    "harder goes strong" and of a bump peaking at each failure rate in ``peaks``."""
    ds = left.ds
    scores = score_matrix(ds, ds.models)
    strong, weak = default_pair(ds.models, scores[left.test], cost_matrix(ds, ds.models)[left.test])
    rest = [j for j, m in enumerate(ds.models) if m not in (strong, weak)]
    if not rest:
        return None
    obs = scores[fold.rows][:, rest]
    n = np.isfinite(obs).sum(1)
    fail = 1 - np.where(np.isfinite(obs), obs, 0).sum(1) / np.maximum(n, 1)
    fail = np.where(n > 0, fail, float(np.mean(fail[n > 0])))
    return fold.apgr(fail), {c: fold.apgr(-((fail - c) ** 2)) for c in peaks}


def tail_cut(files: Sequence[Loaded], bundle: LoadedBundle) -> dict[str, dict[str, float]]:
    """Per file, the share of its evaluated prompts whose selected text (what the server
    embeds) is longer than the encoder's ``max_seq_length`` tokens, so the truncation cuts its
    end: ``{"all": share, category: share, ...}``."""
    enc = bundle.manifest["encoder"]
    tok = Tokenizer.from_file(str(bundle.path / enc["tokenizer"]))
    tok.no_truncation()
    tok.no_padding()
    limit, seq = clip_chars(enc), int(enc["max_seq_length"])
    out = {}
    for f in files:
        idx = np.flatnonzero(f.test)
        texts = [clip(f.ds.prompts[i].strip(), limit) for i in idx]
        cut = np.asarray([len(e.ids) > seq for e in tok.encode_batch(texts)])
        cats = np.asarray([f.ds.examples[i].category for i in idx], object)
        out[f.name] = {"all": float(cut.mean()),
                       **{str(c): float(cut[cats == c].mean()) for c in sorted(set(cats))}}
    return out
