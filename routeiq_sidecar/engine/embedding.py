"""The served snapshot (bundle, strategies, catalogue, batcher) and embedding through the cache.

A reload swaps the whole ``Loaded`` snapshot in one assignment, so a request sees either the
old or the new bundle whole. Embeddings are cached per encoder kind and text.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.model.batcher import Batcher, Embedded
from routeiq_sidecar.model.cache import EmbeddingCache, text_key
from routeiq_sidecar.strategies.base import Strategy
from routeiq_sidecar.telemetry.metrics import Metrics
from routeiq_sidecar.text import SelectedText
from routeiq_sidecar.types import Signals, Timings


@dataclass(frozen=True)
class Loaded:
    bundle: LoadedBundle
    strategies: dict[str, Strategy]
    known_models: tuple[str, ...]  # the models the bundle's trained heads know
    catalogue: Catalogue
    batcher: Batcher
    escalation: Loaded | None = None  # cascade: the MiniLM tier behind the static one

    def batchers(self) -> list[Batcher]:
        return [self.batcher] + ([self.escalation.batcher] if self.escalation else [])

    def signals(self, vec: np.ndarray, sel: SelectedText) -> Signals:
        return self.bundle.classifier.classify(vec, sel.estimated_prompt_tokens)


def fallback_signals(sel: SelectedText) -> Signals:
    return Signals("unknown", "unknown", 0.0, 0.5, sel.estimated_prompt_tokens, {})


class Embedder:
    def __init__(self, cache_size: int, metrics: Metrics) -> None:
        self.cache_size = cache_size
        self.metrics = metrics
        self.cache = EmbeddingCache(cache_size)

    def reset(self) -> None:
        """A new bundle: vectors of the old encoder no longer apply."""
        self.cache = EmbeddingCache(self.cache_size)

    async def embed(self, loaded: Loaded, text: str) -> tuple[np.ndarray, Timings]:
        kind = loaded.bundle.kind
        key = kind.encode() + text_key(text)  # each encoder has its own vectors
        vec = self.cache.get(key)
        if vec is not None:
            self.metrics.cache_hits.inc()
            return vec, Timings(cache_hit=True, encoder=kind)
        if self.cache.capacity:
            self.metrics.cache_misses.inc()
        e: Embedded = await loaded.batcher.embed(text)
        self.cache.put(key, e.vector)
        return e.vector, Timings(
            tokenize_us=e.tokenize_us,
            embed_us=e.embed_us,
            queue_us=e.queue_us,
            batch_size=e.batch_size,
            encoder=kind,
        )

    async def embed_by(
        self, loaded: Loaded, text: str, deadline_ms: int, t0: int
    ) -> tuple[np.ndarray, Timings]:
        """``embed`` within what is left of the request's deadline (TimeoutError past it)."""
        if deadline_ms <= 0:
            return await self.embed(loaded, text)
        left = deadline_ms / 1000 - (time.perf_counter_ns() - t0) / 1e9
        if left <= 0:
            raise TimeoutError
        if loaded.batcher.direct:  # encoded on the spot: nothing a timeout could interrupt
            return await self.embed(loaded, text)
        return await asyncio.wait_for(self.embed(loaded, text), left)


def add_pass(timings: Timings, more: Timings) -> None:
    """Fold the MiniLM pass of a cascade into the static pass's timings."""
    timings.tokenize_us += more.tokenize_us
    timings.embed_us += more.embed_us
    timings.queue_us += more.queue_us
    timings.batch_size = more.batch_size
    timings.cache_hit = more.cache_hit
    timings.encoder = more.encoder
