"""The routing engine: text selection -> tokenize + embed (batched) -> signals -> strategy -> rule.

It knows nothing of HTTP or gRPC; the pipeline (api/pipeline.py) hands it ``RouteInput``s. The
loaded bundle, its strategies and the catalogue live in one ``Loaded`` snapshot that a reload
swaps in one assignment (engine/embedding.py); the shared state around a decision is
engine/state_io.py, the strategy and the rule engine/ranking.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.config import Settings
from routeiq_sidecar.engine import learning, sticky
from routeiq_sidecar.engine.cascade import EscalationShare, category_margin, decision_margin
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.decide import FALLBACK_STRATEGY, Constraints, explain
from routeiq_sidecar.engine.embedding import Embedder, Loaded, add_pass, fallback_signals
from routeiq_sidecar.engine.experiments import Assignment, ExperimentReport, Experiments
from routeiq_sidecar.engine.ranking import Question, Ranked, Ranker
from routeiq_sidecar.engine.state_io import StateIO
from routeiq_sidecar.engine.validate import (
    check_feedback,
    check_request,
    check_strings,
    check_text,
    resolve_candidates,
    resolve_profile,
)
from routeiq_sidecar.errors import RouteIQError, invalid
from routeiq_sidecar.ids import new_id
from routeiq_sidecar.limits import shown
from routeiq_sidecar.model.batcher import Batcher
from routeiq_sidecar.state.factory import make_store
from routeiq_sidecar.state.store import Store
from routeiq_sidecar.strategies.base import StrategyInput, uses_embedding
from routeiq_sidecar.strategies.priors import capability_priors
from routeiq_sidecar.strategies.registry import Strategies, build_strategies
from routeiq_sidecar.telemetry.metrics import Metrics
from routeiq_sidecar.text import clip_chars, select_text
from routeiq_sidecar.types import (
    UNKNOWN_PRICE_PER_MTOK,
    CandidateSpec,
    ChatMessage,
    Classified,
    Decision,
    RouteInput,
    Timings,
)

PRICE_WARN_INTERVAL_S = 60.0
STATE_DOWN_NOTE = "shared state unavailable: not sticky, feedback not applied"
log = logging.getLogger("routeiq.engine")


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
        self.state = StateIO(self.store, settings, self.learning, self.experiments, self.metrics)
        self.routing = 0  # decisions under way (in ``route``): how busy this worker is
        self.ranker = Ranker(settings, self.learning, self.metrics.predict_batch_sizes.observe,
                             busy=lambda: self.routing)
        self.embedder = Embedder(settings.embed_cache_size, self.metrics)
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
            on_batch=self.metrics.batch_sizes.observe,
            inline=bundle.kind == "static",
        )
        self.metrics.set_bundle(bundle.name, bundle.version)
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
        self.embedder.reset()
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
        self.metrics.flush()

    @property
    def strategy_names(self) -> list[str]:
        return sorted(self.loaded.strategies)

    def default_strategy(self) -> str:
        return self.settings.default_strategy or self.loaded.bundle.default_strategy

    def experiment_report(self) -> list[ExperimentReport]:
        """Arms with their counts, for GetInfo (refreshed from the store in the background)."""
        return self.experiments.report(self.store)

    # --- public API
    async def classify(
        self, request_id: str, messages: tuple[ChatMessage, ...], prompt: str
    ) -> Classified:
        t0 = time.perf_counter_ns()
        inp = RouteInput(request_id=request_id, messages=messages, prompt=prompt)
        check_strings(inp)
        check_text(inp, self.settings)
        loaded = self.loaded
        sel = select_text(messages, prompt, clip_chars(loaded.bundle.manifest["encoder"]))
        vec, timings = await self.embedder.embed(loaded, sel.text)
        t1 = time.perf_counter_ns()
        signals = loaded.signals(vec, sel)
        esc = loaded.escalation
        if esc is not None:
            escalated = category_margin(signals) < self.settings.cascade_margin
            if escalated:
                vec, more = await self.embedder.embed(esc, sel.text)
                t1 = time.perf_counter_ns()
                signals = esc.signals(vec, sel)
                add_pass(timings, more)
            self._note_cascade(timings, escalated)
        timings.classify_us = _us_since(t1)
        timings.total_us = _us_since(t0)
        self.metrics.classifications.inc()
        return Classified(signals, timings, loaded.bundle.version)

    async def route(self, inp: RouteInput) -> Decision:
        self.routing += 1
        try:
            return await self._route(inp)
        finally:
            self.routing -= 1

    async def _route(self, inp: RouteInput) -> Decision:
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
                f"unknown strategy {shown(strategy_name)} "
                f"(available: {', '.join(sorted(loaded.strategies))})",
            )
        candidates = resolve_candidates(inp, loaded.catalogue, s)
        sel = select_text(inp.messages, inp.prompt, clip_chars(loaded.bundle.manifest["encoder"]))

        degraded, cause = False, ""
        try:
            vec, timings = await self.embedder.embed_by(loaded, sel.text, inp.deadline_ms, t0)
            t1 = time.perf_counter_ns()
            signals = loaded.signals(vec, sel)
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
            signals = fallback_signals(sel)

        self._note_unknown_prices(candidates)
        state = await self.state.read(inp, signals.category, candidates)
        priors, prior_sources = capability_priors(candidates)
        seed = int.from_bytes(hashlib.blake2b(inp.request_id.encode(), digest_size=8).digest())
        q = Question(
            StrategyInput(vec, sel, signals, candidates, priors, prior_sources, seed),
            state,
            profile,
            Constraints(
                inp.required_capabilities,
                inp.max_cost_per_mtok,
                sel.estimated_prompt_tokens,
                profile,
            ),
            inp.quality_cost_tradeoff,
        )
        cascade_note = ""
        if (loaded.escalation is None or degraded) and (
            assigned is None or not assigned.shadow_strategy or degraded
        ):  # no shadow to ask: no tasks to gather
            ranked = await self.ranker.rank(loaded.strategies, strategy_name, q)
            shadow_strategy, shadow_id = "", ""
        elif loaded.escalation is None or degraded:
            ranked, (shadow_strategy, shadow_id) = await asyncio.gather(
                self.ranker.rank(loaded.strategies, strategy_name, q),
                self.ranker.shadow(loaded.strategies, assigned, q, degraded),
            )
        else:
            tier, q, ranked, cascade_note = await self._cascade(
                loaded, strategy_name, q, inp, timings, t0
            )
            signals, state = q.sinp.signals, q.state
            shadow_strategy, shadow_id = await self.ranker.shadow(
                tier.strategies, assigned, q, degraded
            )
        kept = sticky.keep(ranked.ranking, state.previous)
        ranking = kept.ranking
        selected = next(c for c in candidates if c.id == ranking[0].candidate_id)
        notes = [n for n in (kept.note, cascade_note, "" if state.ok else STATE_DOWN_NOTE) if n]
        timings.classify_us = _us_since(t1)
        timings.total_us = _us_since(t0)
        decision = Decision(
            decision_id=new_id(),
            request_id=inp.request_id,
            selected=selected,
            ranking=ranking,
            strategy=strategy_name,
            profile=profile,
            lam=ranked.lam,
            signals=signals,
            reason=explain(
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
        written = await self.state.remember(decision, inp, state, assigned, ranked.learned)
        timings.total_us = _us_since(t0)  # the state writes are part of serving the request
        self.metrics.count_decision(
            decision,
            state_ok=state.ok,
            written=written,
            sticky=kept.result if state.session_key is not None else None,
            learned=ranked.learned,
        )
        return decision

    async def feedback(self, decision_id: str, outcome: dict[str, Any]) -> bool:
        """Returns True when this decision already had feedback (idempotent)."""
        check_feedback(decision_id, outcome)
        return await self.state.feedback(decision_id, outcome)

    # --- the cascade encoder
    async def _cascade(
        self,
        loaded: Loaded,
        strategy_name: str,
        q: Question,
        inp: RouteInput,
        timings: Timings,
        t0: int,
    ) -> tuple[Loaded, Question, Ranked, str]:
        """The static tier ranks; on a near tie the MiniLM tier embeds and ranks again.

        Returns the tier that answered, its question (input and state), its ranking and a
        note. A MiniLM pass that misses the deadline or fails leaves the static answer standing
        (not degraded).
        """
        ranked = await self.ranker.rank(loaded.strategies, strategy_name, q)
        esc = loaded.escalation
        assert esc is not None
        unsure = (
            strategy_name in esc.strategies
            and uses_embedding(loaded.strategies[strategy_name])
            and decision_margin(ranked.ranking) < self.settings.cascade_margin
        )
        tier, note = loaded, ""
        if unsure:
            sinp = q.sinp
            try:
                vec, more = await self.embedder.embed_by(esc, sinp.text.text, inp.deadline_ms, t0)
            except TimeoutError:
                note = "cascade: deadline reached before MiniLM, static answer"
            except RouteIQError:
                raise
            except Exception as exc:  # the static answer stands
                note = f"cascade: MiniLM failed ({type(exc).__name__}), static answer"
            else:
                signals = esc.signals(vec, sinp.text)
                state = q.state
                if signals.category != sinp.signals.category:
                    state = await self.state.read(inp, signals.category, sinp.candidates)
                q = replace(q, sinp=replace(sinp, embedding=vec, signals=signals), state=state)
                ranked = await self.ranker.rank(esc.strategies, strategy_name, q)
                tier = esc
                add_pass(timings, more)
        self._note_cascade(timings, tier is esc)
        return tier, q, ranked, note

    def _note_cascade(self, timings: Timings, escalated: bool) -> None:
        timings.escalated = escalated
        timings.escalated_share = self.escalation_share.note(escalated)
        self.metrics.cascade.labels("minilm" if escalated else "static").inc()

    # --- helpers
    def _assign(self, inp: RouteInput, loaded: Loaded) -> Assignment | None:
        """The experiment arm, unless the request names its strategy (an override)."""
        if inp.strategy or not self.experiments:
            return None
        a = self.experiments.assign(inp)
        if a is None or a.strategy not in loaded.strategies:  # a reload dropped the strategy
            return None
        return a

    def _note_unknown_prices(self, candidates: tuple[CandidateSpec, ...]) -> None:
        unknown = [c.id for c in candidates if not c.price_known]
        if not unknown:
            return
        self.metrics.price_unknown.inc(len(unknown))
        now = time.monotonic()
        if now - self._price_warned_at >= PRICE_WARN_INTERVAL_S:
            self._price_warned_at = now
            log.warning(
                "candidates without a price (%s) are priced from their names where those "
                "state a size or tier, else at $%g/Mtok, never free; send "
                "input_cost_per_mtok/output_cost_per_mtok", ", ".join(unknown[:5])[:200],
                UNKNOWN_PRICE_PER_MTOK,
            )
