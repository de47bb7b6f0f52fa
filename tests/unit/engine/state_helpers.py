"""An engine on the tiny random bundle, for the stickiness / learning / experiment tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.engine import Engine
from routeiq_sidecar.state.store import Store
from routeiq_sidecar.telemetry.metrics import Metrics
from routeiq_sidecar.types import CandidateSpec, RouteInput
from tests.conftest import make_settings

CHEAP = CandidateSpec("cheap", "openai/gpt-4o-mini", 0.15, 0.6)
MID = CandidateSpec("mid", "openai/gpt-4o", 2.5, 10.0, capabilities=("json",))
STRONG = CandidateSpec("strong", "anthropic/claude-opus-4", 15, 75, capabilities=("tools",))
CANDS = (CHEAP, MID, STRONG)


def make_engine(
    tmp_path: Path,
    bundle: LoadedBundle,
    *,
    store: Store | None = None,
    metrics: Metrics | None = None,
    **settings: Any,
) -> Engine:
    return Engine(
        make_settings(tmp_path, **settings),
        bundle,
        Catalogue.empty(),
        store=store,
        metrics=metrics,
    )


def req(prompt: str = "Write a haiku about the sea", **kw: Any) -> RouteInput:
    base: dict[str, Any] = {"request_id": "r", "prompt": prompt, "candidates": CANDS}
    base.update(kw)
    return RouteInput(**base)
