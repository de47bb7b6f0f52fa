"""The routing engine: text selection -> tokenize + embed (batched) -> signals -> strategy -> rule.

It knows nothing of HTTP or gRPC; transports convert their messages to ``RouteInput`` and
back. The loaded bundle, its strategies and the catalogue live in one ``Loaded`` snapshot that
a reload swaps in one assignment, so a request sees either the old or the new bundle whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine import learning, sticky
from routeiq_sidecar.engine.cascade import EscalationShare, category_margin, decision_margin
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.decide import Constraints, rank, resolve_lambda
from routeiq_sidecar.engine.experiments import (
    Assignment,
    ExperimentReport,
    Experiments,
    decision_counts,
    feedback_counts,
)
from routeiq_sidecar.engine.validate import (
    check_request,
    check_text,
    resolve_candidates,
    resolve_profile,
)
from routeiq_sidecar.errors import ErrorKind, RouteIQError, invalid
from routeiq_sidecar.model.batcher import Batcher, Embedded
from routeiq_sidecar.model.cache import EmbeddingCache, text_key
from routeiq_sidecar.state.factory import make_store
from routeiq_sidecar.state.stats import ModelStat
from routeiq_sidecar.state.store import Lookup, Store
from routeiq_sidecar.strategies.base import Strategy, StrategyInput, uses_embedding
from routeiq_sidecar.strategies.priors import capability_priors
from routeiq_sidecar.strategies.registry import Strategies, build_strategies
from routeiq_sidecar.telemetry.metrics import Metrics
from routeiq_sidecar.text import SelectedText, select_text
from routeiq_sidecar.types import (
    UNKNOWN_PRICE_PER_MTOK,
    CandidateSpec,
    ChatMessage,
    Classified,
    Decision,
    RouteInput,
    Score,
    Signals,
    Timings,
)

FALLBACK_STRATEGY = "length"
PRICE_WARN_INTERVAL_S = 60.0
STATE_DOWN_NOTE = "shared state unavailable: not sticky, feedback not applied"
log = logging.getLogger("routeiq.engine")


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


@dataclass(frozen=True)
class StateView:
    """What the state store said for one request (``ok`` False: it could not answer)."""

    ok: bool = True
    session_key: str | None = None
    previous: str | None = None  # the session's deployment
    stats: dict[str, ModelStat] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranked:
    ranking: list[Score]
    lam: float
    note: str
    learned: bool


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
        strategies: Strategies | None = None,
    ) -> None:
        """``strategies``: built with the bundle (strategies/registry.py); from it if None."""
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._price_warned_at = -PRICE_WARN_INTERVAL_S
        self.store: Store = store if store is not None else make_store(settings, self.metrics)
        self.learning = learning.LearningConfig.from_settings(settings)
        self.experiments = Experiments(settings.experiments)
        self.cache = EmbeddingCache(settings.embed_cache_size)
        self.escalation_share = EscalationShare()
        self.loaded = self._make_loaded(bundle, catalogue, strategies)
        self.experiments.check(self.loaded.strategies)

    # --- lifecycle
    def _make_loaded(
        self,
        bundle: LoadedBundle,
        catalogue: Catalogue,
        strategies: Strategies | None = None,
    ) -> Loaded:
        batcher = Batcher(
            bundle.encoder,
            max_batch=self.settings.max_batch_size,
            wait_us=self.settings.batch_wait_us,
            on_batch=self.metrics.batch_size.observe,
        )
        self.metrics.bundle.info({"name": bundle.name, "version": bundle.version})
        if strategies is None:
            strategies = build_strategies(bundle)
        escalation = (
            self._make_loaded(bundle.escalation, catalogue, strategies.escalation)
            if bundle.escalation is not None
            else None
        )
        return Loaded(
            bundle, strategies.by_name, strategies.known_models, catalogue, batcher, escalation
        )

    async def swap(
        self, bundle: LoadedBundle, catalogue: Catalogue, strategies: Strategies | None = None
    ) -> None:
        """Serve ``bundle`` from now on; requests already running finish on the old one."""
        old, self.loaded = self.loaded, self._make_loaded(bundle, catalogue, strategies)
        self.cache = EmbeddingCache(self.settings.embed_cache_size)
        await asyncio.sleep(0)
        for batcher in old.batchers():
            await batcher.stop()

    async def warm_up(self) -> None:
        """One encoder pass at start, so the first caller does not pay session initialisation."""
        for batcher in self.loaded.batchers():
            await batcher.embed("warm up")

    async def close(self) -> None:
        for batcher in self.loaded.batchers():
            await batcher.stop()
        await self.experiments.close()
        await self.store.close()

    @property
    def strategy_names(self) -> list[str]:
        return sorted(self.loaded.strategies)

    def default_strategy(self) -> str:
        return self.settings.default_strategy or self.loaded.bundle.default_strategy

    # --- embedding
    async def _embed(self, loaded: Loaded, text: str) -> tuple[np.ndarray, Timings]:
        kind = loaded.bundle.kind
        key = kind.encode() + text_key(text)  # each encoder has its own vectors
        vec = self.cache.get(key)
        if vec is not None:
            self.metrics.cache.labels("hit").inc()
            return vec, Timings(cache_hit=True, encoder=kind)
        if self.cache.capacity:
            self.metrics.cache.labels("miss").inc()
        e: Embedded = await loaded.batcher.embed(text)
        self.cache.put(key, e.vector)
        return e.vector, Timings(
            tokenize_us=e.tokenize_us,
            embed_us=e.embed_us,
            queue_us=e.queue_us,
            batch_size=e.batch_size,
            encoder=kind,
        )

    async def _embed_by(
        self, loaded: Loaded, text: str, deadline_ms: int, t0: int
    ) -> tuple[np.ndarray, Timings]:
        """``_embed`` within what is left of the request's deadline (TimeoutError past it)."""
        if deadline_ms <= 0:
            return await self._embed(loaded, text)
        left = deadline_ms / 1000 - (time.perf_counter_ns() - t0) / 1e9
        if left <= 0:
            raise TimeoutError
        return await asyncio.wait_for(self._embed(loaded, text), left)

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
        esc = loaded.escalation
        if esc is not None:
            escalated = category_margin(signals) < self.settings.cascade_margin
            if escalated:
                vec, more = await self._embed(esc, sel.text)
                t1 = time.perf_counter_ns()
                signals = self._signals(esc, vec, sel)
                _add_pass(timings, more)
            self._note_cascade(timings, escalated)
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
        assigned = self._assign(inp, loaded)
        strategy_name = inp.strategy or (assigned.strategy if assigned else self.default_strategy())
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
            vec, timings = await self._embed_by(loaded, sel.text, inp.deadline_ms, t0)
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

        self._note_unknown_prices(candidates)
        state = await self._read_state(inp, signals.category, candidates)
        priors, prior_sources = capability_priors(candidates)
        seed = int.from_bytes(hashlib.blake2b(inp.request_id.encode(), digest_size=8).digest())
        sinp = StrategyInput(vec, sel, signals, candidates, priors, prior_sources, seed)
        constraints = Constraints(
            inp.required_capabilities,
            inp.max_cost_per_mtok,
            sel.estimated_prompt_tokens,
            profile,
        )
        cascade_note = ""
        if loaded.escalation is None or degraded:
            ranked, (shadow_strategy, shadow_id) = await asyncio.gather(
                self._rank(loaded, strategy_name, sinp, state, inp, profile, constraints),
                self._shadow(loaded, assigned, sinp, state, inp, profile, constraints, degraded),
            )
        else:
            tier, sinp, state, ranked, cascade_note = await self._cascade(
                loaded, strategy_name, sinp, state, inp, profile, constraints, timings, t0
            )
            signals = sinp.signals
            shadow_strategy, shadow_id = await self._shadow(
                tier, assigned, sinp, state, inp, profile, constraints, degraded
            )
        kept = sticky.keep(ranked.ranking, state.previous)
        ranking = kept.ranking
        selected = next(c for c in candidates if c.id == ranking[0].candidate_id)
        notes = [n for n in (kept.note, cascade_note, "" if state.ok else STATE_DOWN_NOTE) if n]
        timings.classify_us = _us_since(t1)
        timings.total_us = _us_since(t0)
        decision = Decision(
            decision_id=uuid.uuid4().hex,
            request_id=inp.request_id,
            selected=selected,
            ranking=ranking,
            strategy=strategy_name,
            profile=profile,
            lam=ranked.lam,
            signals=signals,
            reason=self._reason(
                selected, ranking, strategy_name, profile, ranked.lam, ranked.note, cause, notes
            ),
            timings=timings,
            bundle_version=loaded.bundle.version,
            degraded=degraded,
            sticky=kept.sticky,
            experiment=assigned.experiment if assigned else "",
            arm=assigned.arm if assigned else "",
            shadow_strategy=shadow_strategy,
            shadow_selected_id=shadow_id,
        )
        written = await self._remember(decision, inp, state, assigned, ranked.learned)
        timings.total_us = _us_since(t0)  # the state writes are part of serving the request
        self._count(decision, state, kept, ranked.learned, written)
        return decision

    async def _cascade(
        self,
        loaded: Loaded,
        strategy_name: str,
        sinp: StrategyInput,
        state: StateView,
        inp: RouteInput,
        profile: str,
        constraints: Constraints,
        timings: Timings,
        t0: int,
    ) -> tuple[Loaded, StrategyInput, StateView, Ranked, str]:
        """The static tier ranks; on a near tie the MiniLM tier embeds and ranks again.

        Returns the tier that answered, its input and state, its ranking and a note. A MiniLM
        pass that misses the deadline or fails leaves the static answer standing (not degraded).
        """
        ranked = await self._rank(loaded, strategy_name, sinp, state, inp, profile, constraints)
        esc = loaded.escalation
        assert esc is not None
        unsure = (
            strategy_name in esc.strategies
            and uses_embedding(loaded.strategies[strategy_name])
            and decision_margin(ranked.ranking) < self.settings.cascade_margin
        )
        tier, note = loaded, ""
        if unsure:
            try:
                vec, more = await self._embed_by(esc, sinp.text.text, inp.deadline_ms, t0)
            except TimeoutError:
                note = "cascade: deadline reached before MiniLM, static answer"
            except RouteIQError:
                raise
            except Exception as exc:  # the static answer stands
                note = f"cascade: MiniLM failed ({type(exc).__name__}), static answer"
            else:
                signals = self._signals(esc, vec, sinp.text)
                if signals.category != sinp.signals.category:
                    state = await self._read_state(inp, signals.category, sinp.candidates)
                sinp = replace(sinp, embedding=vec, signals=signals)
                ranked = await self._rank(esc, strategy_name, sinp, state, inp, profile,
                                          constraints)
                tier = esc
                _add_pass(timings, more)
        self._note_cascade(timings, tier is esc)
        return tier, sinp, state, ranked, note

    def _note_cascade(self, timings: Timings, escalated: bool) -> None:
        timings.escalated = escalated
        timings.escalated_share = self.escalation_share.note(escalated)
        self.metrics.cascade.labels("minilm" if escalated else "static").inc()

    def _note_unknown_prices(self, candidates: tuple[CandidateSpec, ...]) -> None:
        unknown = [c.id for c in candidates if not c.price_known]
        if not unknown:
            return
        self.metrics.price_unknown.inc(len(unknown))
        now = time.monotonic()
        if now - self._price_warned_at >= PRICE_WARN_INTERVAL_S:
            self._price_warned_at = now
            log.warning(
                "candidates without a price (%s) are priced at $%g/Mtok, not free; send "
                "input_cost_per_mtok/output_cost_per_mtok", ", ".join(unknown[:5])[:200],
                UNKNOWN_PRICE_PER_MTOK,
            )

    # --- the state around a decision (stickiness, learning, experiments)
    def _assign(self, inp: RouteInput, loaded: Loaded) -> Assignment | None:
        """The experiment arm, unless the request names its strategy (an override)."""
        if inp.strategy or not self.experiments:
            return None
        a = self.experiments.assign(inp)
        if a is None or a.strategy not in loaded.strategies:  # a reload dropped the strategy
            return None
        return a

    async def _read_state(
        self, inp: RouteInput, category: str, candidates: tuple[CandidateSpec, ...]
    ) -> StateView:
        key = sticky.session_key(inp) if self.settings.sticky_ttl_s > 0 else None
        want_stats = self.learning.on
        if key is None and not want_stats:
            return StateView()
        models = sorted({c.model for c in candidates})
        got_sticky, got_stats = await asyncio.gather(
            self.store.get_sticky(key) if key is not None else _nothing(),
            self.store.read_stats(category, models) if want_stats else _no_stats(),
        )
        return StateView(
            ok=got_sticky.ok and got_stats.ok,
            session_key=key,
            previous=got_sticky.value if got_sticky.ok else None,
            stats=got_stats.value if got_stats.ok else {},
        )

    async def _rank(
        self,
        loaded: Loaded,
        strategy_name: str,
        sinp: StrategyInput,
        state: StateView,
        inp: RouteInput,
        profile: str,
        constraints: Constraints,
    ) -> Ranked:
        # A head's prediction (a kNN scan over thousands of rows, an onnxruntime call) runs in
        # a worker thread: on the event loop every concurrent request would wait behind it.
        est = await asyncio.to_thread(loaded.strategies[strategy_name].predict, sinp)
        quality, sources, learned = est.quality, est.sources, False
        if state.stats and learning.learns(strategy_name, self.learning):
            b = learning.blend(
                quality,
                sources,
                [c.model for c in sinp.candidates],
                state.stats,
                now=time.time(),
                cfg=self.learning,
            )
            quality, sources, learned = b.quality, b.sources, b.learned
        lam = resolve_lambda(profile, inp.quality_cost_tradeoff) if est.cost_aware else 0.0
        ranking = rank(
            sinp.candidates,
            quality,
            sources,
            constraints=constraints,
            lam=lam,
            signals=sinp.signals,
            output_tokens=self.settings.assumed_output_tokens,
        )
        return Ranked(ranking, lam, est.note, learned)

    async def _shadow(
        self,
        loaded: Loaded,
        assigned: Assignment | None,
        sinp: StrategyInput,
        state: StateView,
        inp: RouteInput,
        profile: str,
        constraints: Constraints,
        degraded: bool,
    ) -> tuple[str, str]:
        """(shadow strategy, the candidate it would have served); never fails the request."""
        if assigned is None or not assigned.shadow_strategy or degraded:
            return "", ""
        name = assigned.shadow_strategy
        if name not in loaded.strategies:
            return "", ""
        try:
            ranked = await self._rank(loaded, name, sinp, state, inp, profile, constraints)
        except Exception as exc:  # the shadow is advisory: the served answer stands
            log.warning("shadow strategy %s failed: %s", name, exc)
            return name, ""
        return name, ranked.ranking[0].candidate_id

    async def _remember(
        self,
        d: Decision,
        inp: RouteInput,
        state: StateView,
        assigned: Assignment | None,
        learned: bool,
    ) -> bool:
        """Decision log, the session's deployment and experiment counts; False: not all stored."""
        writes = [self.store.record_decision(d.decision_id, self._record(d, inp, learned))]
        if state.session_key is not None and state.ok:
            writes.append(self.store.set_sticky(state.session_key, d.selected.id))
        if assigned is not None:
            deltas = decision_counts(assigned, d.shadow_selected_id, d.selected.id)
            self.experiments.note(assigned.experiment, deltas)
            writes.append(self.store.incr_counters(assigned.experiment, deltas))
        ok = all(await asyncio.gather(*writes))
        if not ok and state.ok:
            d.reason = d.reason.removesuffix(".") + "; shared state unavailable: not recorded."
        return ok

    def _count(
        self, d: Decision, state: StateView, kept: sticky.Kept, learned: bool, written: bool
    ) -> None:
        m = self.metrics
        m.decisions.labels(d.strategy, d.profile, d.selected.model, str(d.degraded).lower()).inc()
        for stage, us in (
            ("tokenize", d.timings.tokenize_us),
            ("embed", d.timings.embed_us),
            ("classify", d.timings.classify_us),
            ("queue", d.timings.queue_us),
            ("total", d.timings.total_us),
        ):
            m.stage_seconds.labels(stage).observe(us / 1e6)
        if not (state.ok and written):
            m.state_degraded.inc()
        if state.session_key is not None:
            m.sticky.labels(kept.result if state.ok else "unavailable").inc()
        if learned:
            m.learned.inc()
        if d.experiment:
            m.experiment_decisions.labels(d.experiment, d.arm, d.strategy).inc()
        if d.shadow_strategy and d.shadow_selected_id:
            agree = str(d.shadow_selected_id == d.selected.id).lower()
            m.shadow_decisions.labels(d.experiment, d.shadow_strategy, agree).inc()

    def experiment_report(self) -> list[ExperimentReport]:
        """Arms with their counts, for GetInfo (refreshed from the store in the background)."""
        return self.experiments.report(self.store)

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
        if not res.available:
            self.metrics.feedback.labels("unavailable").inc()
            raise RouteIQError(
                ErrorKind.UNAVAILABLE,
                f"decision_id: the shared state store is unavailable, feedback for "
                f"{decision_id!r} was not recorded; retry later",
                field="decision_id",
            )
        if not res.found:
            self.metrics.feedback.labels("unknown").inc()
            raise RouteIQError(
                ErrorKind.NOT_FOUND,
                f"decision_id: unknown or expired decision {decision_id!r} "
                f"(decisions are kept {self.settings.decision_ttl_s} s)",
                field="decision_id",
            )
        self.metrics.feedback.labels("duplicate" if res.duplicate else "accepted").inc()
        if not res.duplicate and res.record is not None:
            await self._learn(res.record, outcome)
        return res.duplicate

    async def _learn(self, record: dict[str, Any], outcome: dict[str, Any]) -> None:
        """Per-model statistics and experiment counts; a store failure here only loses them."""
        r = learning.reward(outcome)
        writes = [
            self.store.update_stats(
                str(record.get("category", "")),
                str(record.get("selected_model", "")),
                r,
                now=time.time(),
                latency_ms=float(outcome.get("latency_ms") or 0.0),
                cost_usd=float(outcome.get("cost_usd") or 0.0),
            )
        ]
        experiment, arm = str(record.get("experiment") or ""), str(record.get("arm") or "")
        if experiment and arm:
            deltas = feedback_counts(arm, r)
            self.experiments.note(experiment, deltas)
            writes.append(self.store.incr_counters(experiment, deltas))
            self.metrics.experiment_feedback.labels(experiment, arm).inc()
        if not all(await asyncio.gather(*writes)):
            log.warning("feedback accepted but not learned: the shared state store is unavailable")

    # --- helpers
    @staticmethod
    def _record(d: Decision, inp: RouteInput, learned: bool) -> dict[str, Any]:
        return {
            "selected_id": d.selected.id,
            "selected_model": d.selected.model,
            "predicted_quality": d.ranking[0].predicted_quality,
            "strategy": d.strategy,
            "profile": d.profile,
            "category": d.signals.category,
            "complexity": d.signals.complexity,
            "session_id": inp.session_id,
            "user_id": inp.user_id,
            "sticky": d.sticky,
            "learned": learned,
            "experiment": d.experiment,
            "arm": d.arm,
            "shadow_strategy": d.shadow_strategy,
            "shadow_selected_id": d.shadow_selected_id,
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
        notes: list[str] | None = None,
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
        parts.extend(notes or ())
        if cause:
            parts.insert(0, f"degraded: {cause}, fallback rule {FALLBACK_STRATEGY}")
        return "; ".join(parts) + "."


async def _nothing() -> Lookup[str | None]:
    return Lookup(True, None)


async def _no_stats() -> Lookup[dict[str, ModelStat]]:
    return Lookup(True, {})


def _add_pass(timings: Timings, more: Timings) -> None:
    """Fold the MiniLM pass of a cascade into the static pass's timings."""
    timings.tokenize_us += more.tokenize_us
    timings.embed_us += more.embed_us
    timings.queue_us += more.queue_us
    timings.batch_size = more.batch_size
    timings.cache_hit = more.cache_hit
    timings.encoder = more.encoder
