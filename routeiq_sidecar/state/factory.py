"""``make_store(settings)``: Redis when ``redis_url`` is set, else a SQLite file when
``state_path`` is (the workers of one ``serve --workers N``), else in-process memory."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from routeiq_sidecar.config import Settings, redact_url
from routeiq_sidecar.state.memory import MemoryStore
from routeiq_sidecar.state.stats import StatsPolicy
from routeiq_sidecar.state.store import StateLimits, Store

if TYPE_CHECKING:
    from routeiq_sidecar.telemetry.metrics import Metrics

log = logging.getLogger("routeiq.state")


def limits_from(settings: Settings) -> StateLimits:
    return StateLimits(
        decision_ttl_s=settings.decision_ttl_s,
        decision_log_size=settings.decision_log_size,
        sticky_ttl_s=settings.sticky_ttl_s,
        session_cache_size=settings.session_cache_size,
        memory_max_bytes=settings.memory_store_max_mb * 2**20,
        stats=StatsPolicy.from_window(
            settings.feedback_window, settings.stats_half_life_s, settings.stats_ttl_s
        ),
    )


def make_store(settings: Settings, metrics: Metrics | None = None) -> Store:
    limits = limits_from(settings)
    if not settings.redis_url and settings.state_path is not None:
        from routeiq_sidecar.state.sqlite_store import SQLiteStore

        log.info("state: sqlite file %s (shared by this host's workers)", settings.state_path)
        return SQLiteStore(settings.state_path, limits, metrics=metrics)
    if not settings.redis_url:
        return MemoryStore(limits)
    from routeiq_sidecar.state.redis_store import RedisStore

    log.info(
        "state: redis at %s (timeout %d ms, key prefix %r)",
        redact_url(settings.redis_url),
        settings.redis_timeout_ms,
        settings.redis_key_prefix,
    )
    return RedisStore(
        settings.redis_url,
        limits,
        timeout_ms=settings.redis_timeout_ms,
        max_connections=settings.redis_max_connections,
        prefix=settings.redis_key_prefix,
        metrics=metrics,
    )
