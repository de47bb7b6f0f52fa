"""The routing engine: text selection -> tokenize + embed (batched) -> signals -> strategy -> rule.

It knows nothing of HTTP or gRPC; transports convert their messages to ``RouteInput`` and
back. The loaded bundle, its strategies and the catalogue live in one ``Loaded`` snapshot that
a reload swaps in one assignment, so a request sees either the old or the new bundle whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine.batcher import Batcher, Embedded
from routeiq_sidecar.engine.cache import EmbeddingCache, text_key
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.decide import Constraints, rank, resolve_lambda
from routeiq_sidecar.engine.text import SelectedText, select_text
from routeiq_sidecar.engine.types import (
    CandidateSpec,
    ChatMessage,
    Decision,
    RouteInput,
    Score,
    Signals,
    Timings,
)
from routeiq_sidecar.engine.validate import (
    check_request,
    check_text,
    resolve_candidates,
    resolve_profile,
)
from routeiq_sidecar.errors import ErrorKind, RouteIQError, invalid
from routeiq_sidecar.state.memory import MemoryStore
from routeiq_sidecar.state.store import Store
from routeiq_sidecar.strategies.base import Strategy, StrategyInput
from routeiq_sidecar.strategies.priors import capability_priors
from routeiq_sidecar.strategies.registry import build_strategies
from routeiq_sidecar.telemetry.metrics import Metrics

FALLBACK_STRATEGY = "length"


@dataclass(frozen=True)
class Loaded:
    bundle: LoadedBundle
    strategies: dict[str, Strategy]
    catalogue: Catalogue
    batcher: Batcher


@dataclass(frozen=True)
class Classified:
    signals: Signals
    timings: Timings
    bundle_version: str


def _us_since(t0: int) -> int:
    return (time.perf_counter_ns() - t0) // 1000


class Engine:
    def __init__(
        self,
        settings: Settings,
        bundle: LoadedBundle,
        catalogue: Catalogue,
        *,
        metrics: Metrics | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.store: Store = store or MemoryStore(
            ttl_s=settings.decision_ttl_s, max_items=settings.decision_log_size
        )
        self.cache = EmbeddingCache(settings.embed_cache_size)
        self.loaded = self._make_loaded(bundle, catalogue)

    # --- lifecycle
    def _make_loaded(self, bundle: LoadedBundle, catalogue: Catalogue) -> Loaded:
        batcher = Batcher(
            bundle.encoder,
            max_batch=self.settings.max_batch_size,
            wait_us=self.settings.batch_wait_us,
            on_batch=self.metrics.batch_size.observe,
        )
        self.metrics.bundle.info({"name": bundle.name, "version": bundle.version})
        return Loaded(bundle, build_strategies(bundle), catalogue, batcher)

    async def swap(self, bundle: LoadedBundle, catalogue: Catalogue) -> None:
        """Serve ``bundle`` from now on; requests already running finish on the old one."""
        old, self.loaded = self.loaded, self._make_loaded(bundle, catalogue)
        self.cache = EmbeddingCache(self.settings.embed_cache_size)
        await asyncio.sleep(0)
        await old.batcher.stop()

    async def warm_up(self) -> None:
        """One encoder pass at start, so the first caller does not pay session initialisation."""
        await self.loaded.batcher.embed("warm up")

    async def close(self) -> None:
        await self.loaded.batcher.stop()
        await self.store.close()

    @property
    def strategy_names(self) -> list[str]:
        return sorted(self.loaded.strategies)

    def default_strategy(self) -> str:
        return self.settings.default_strategy or self.loaded.bundle.default_strategy

    # --- embedding
    async def _embed(self, loaded: Loaded, text: str) -> tuple[np.ndarray, Timings]:
        key = text_key(text)
        vec = self.cache.get(key)
        if vec is not None:
            self.metrics.cache.labels("hit").inc()
            return vec, Timings(cache_hit=True)
        if self.cache.capacity:
            self.metrics.cache.labels("miss").inc()
        e: Embedded = await loaded.batcher.embed(text)
        self.cache.put(key, e.vector)
        return e.vector, Timings(
            tokenize_us=e.tokenize_us,
            embed_us=e.embed_us,
            queue_us=e.queue_us,
            batch_size=e.batch_size,
        )

    def _signals(self, loaded: Loaded, vec: np.ndarray, sel: SelectedText) -> Signals:
        return loaded.bundle.classifier.classify(vec, sel.estimated_prompt_tokens)

    @staticmethod
    def _fallback_signals(sel: SelectedText) -> Signals:
        return Signals("unknown", "unknown", 0.0, 0.5, sel.estimated_prompt_tokens, {})

    # --- public API
    async def classify(
        self, request_id: str, messages: tuple[ChatMessage, ...], prompt: str
    ) -> Classified:
        t0 = time.perf_counter_ns()
        check_text(
            RouteInput(request_id=request_id, messages=messages, prompt=prompt), self.settings
        )
        loaded = self.loaded
        sel = select_text(messages, prompt, self._max_chars(loaded))
        vec, timings = await self._embed(loaded, sel.text)
        t1 = time.perf_counter_ns()
        signals = self._signals(loaded, vec, sel)
        timings.classify_us = _us_since(t1)
        timings.total_us = _us_since(t0)
        self.metrics.classifications.inc()
        return Classified(signals, timings, loaded.bundle.version)

    def _max_chars(self, loaded: Loaded) -> int:
        # ~6 characters per token leaves headroom over the tokenizer's own truncation.
        return int(loaded.bundle.manifest["encoder"].get("max_seq_length", 256)) * 6

    async def route(self, inp: RouteInput) -> Decision:
        t0 = time.perf_counter_ns()
        s = self.settings
        check_request(inp, s)
        loaded = self.loaded
        profile = resolve_profile(inp, s)
        strategy_name = inp.strategy or self.default_strategy()
        if strategy_name not in loaded.strategies:
            raise invalid(
                "strategy",
                f"unknown strategy {strategy_name!r} "
                f"(available: {', '.join(sorted(loaded.strategies))})",
            )
        candidates = resolve_candidates(inp, loaded.catalogue, s)
        sel = select_text(inp.messages, inp.prompt, self._max_chars(loaded))

        degraded, cause = False, ""
        try:
            if inp.deadline_ms > 0:
                vec, timings = await asyncio.wait_for(
                    self._embed(loaded, sel.text), inp.deadline_ms / 1000
                )
            else:
                vec, timings = await self._embed(loaded, sel.text)
            t1 = time.perf_counter_ns()
            signals = self._signals(loaded, vec, sel)
        except TimeoutError:
            degraded, cause = True, f"deadline of {inp.deadline_ms} ms reached before the encoder"
        except RouteIQError:
            raise
        except Exception as exc:  # a model error must not fail the caller's request
            degraded, cause = True, f"model error ({type(exc).__name__})"
        if degraded:
            self.metrics.degraded.labels("deadline" if "deadline" in cause else "model_error").inc()
            strategy_name = FALLBACK_STRATEGY
            vec, timings, t1 = np.zeros(0, np.float32), Timings(), time.perf_counter_ns()
            signals = self._fallback_signals(sel)

        strategy = loaded.strategies[strategy_name]
        priors, prior_sources = capability_priors(candidates)
        seed = int.from_bytes(hashlib.blake2b(inp.request_id.encode(), digest_size=8).digest())
        est = strategy.predict(
            StrategyInput(vec, sel, signals, candidates, priors, prior_sources, seed)
        )
        lam = resolve_lambda(profile, inp.quality_cost_tradeoff) if est.cost_aware else 0.0
        ranking = rank(
            candidates,
            est.quality,
            est.sources,
            constraints=Constraints(
                inp.required_capabilities,
                inp.max_cost_per_mtok,
                sel.estimated_prompt_tokens,
                profile,
            ),
            lam=lam,
            signals=signals,
            output_tokens=s.assumed_output_tokens,
        )
        selected = next(c for c in candidates if c.id == ranking[0].candidate_id)
        timings.classify_us = _us_since(t1)
        timings.total_us = _us_since(t0)
        decision = Decision(
            decision_id=uuid.uuid4().hex,
            request_id=inp.request_id,
            selected=selected,
            ranking=ranking,
            strategy=strategy_name,
            profile=profile,
            lam=lam,
            signals=signals,
            reason=self._reason(selected, ranking, strategy_name, profile, lam, est.note, cause),
            timings=timings,
            bundle_version=loaded.bundle.version,
            degraded=degraded,
        )
        await self.store.record_decision(decision.decision_id, self._record(decision, inp))
        self.metrics.decisions.labels(
            strategy_name, profile, selected.model, str(degraded).lower()
        ).inc()
        for stage, us in (
            ("tokenize", timings.tokenize_us),
            ("embed", timings.embed_us),
            ("classify", timings.classify_us),
            ("queue", timings.queue_us),
            ("total", timings.total_us),
        ):
            self.metrics.stage_seconds.labels(stage).observe(us / 1e6)
        return decision

    async def feedback(self, decision_id: str, outcome: dict[str, Any]) -> bool:
        """Returns True when this decision already had feedback (idempotent)."""
        if not decision_id.strip():
            raise invalid("decision_id", "must not be empty")
        if outcome.get("score") is None and outcome.get("success") is None:
            raise invalid("score", "send at least one of score (0..1) or success (bool)")
        score = outcome.get("score")
        if score is not None and not (0.0 <= float(score) <= 1.0):
            raise invalid("score", f"must be within 0..1, got {score!r}")
        for f in ("latency_ms", "cost_usd"):
            v = outcome.get(f)
            if v is not None and (not np.isfinite(v) or v < 0):
                raise invalid(f, f"must be a finite number >= 0, got {v!r}")
        res = await self.store.record_feedback(decision_id, outcome)
        if not res.found:
            self.metrics.feedback.labels("unknown").inc()
            raise RouteIQError(
                ErrorKind.NOT_FOUND,
                f"decision_id: unknown or expired decision {decision_id!r} "
                f"(decisions are kept {self.settings.decision_ttl_s} s)",
                field="decision_id",
            )
        self.metrics.feedback.labels("duplicate" if res.duplicate else "accepted").inc()
        return res.duplicate

    # --- helpers
    @staticmethod
    def _record(d: Decision, inp: RouteInput) -> dict[str, Any]:
        return {
            "selected_id": d.selected.id,
            "selected_model": d.selected.model,
            "strategy": d.strategy,
            "profile": d.profile,
            "category": d.signals.category,
            "complexity": d.signals.complexity,
            "session_id": inp.session_id,
            "user_id": inp.user_id,
            "created": time.time(),
        }

    @staticmethod
    def _reason(
        selected: CandidateSpec,
        ranking: list[Score],
        strategy: str,
        profile: str,
        lam: float,
        note: str,
        cause: str,
    ) -> str:
        top = ranking[0]
        out = sum(1 for r in ranking if not r.eligible)
        parts = [
            f"{selected.id} ({selected.model}) has the best utility {top.utility:.3f} "
            f"(quality {top.predicted_quality:.2f}, lambda {lam:g}) for {note or 'this prompt'}"
            f" under strategy {strategy}, profile {profile}"
        ]
        if out:
            parts.append(f"{out} of {len(ranking)} candidates ineligible")
        if cause:
            parts.insert(0, f"degraded: {cause}, fallback rule {FALLBACK_STRATEGY}")
        return "; ".join(parts) + "."
