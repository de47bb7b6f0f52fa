"""The pipeline's one deadline policy, shared by REST, gRPC and ext_proc."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from routeiq_sidecar.api.pipeline import Pipeline
from routeiq_sidecar.bundle.loader import LoadedBundle
from routeiq_sidecar.engine.catalogue import Catalogue
from routeiq_sidecar.engine.engine import Engine
from tests.conftest import make_settings


@pytest.fixture
async def pipeline(tmp_path: Path, tiny_bundle: LoadedBundle) -> AsyncIterator[Pipeline]:
    s = make_settings(tmp_path, default_deadline_ms=250, ext_proc_deadline_ms=100)
    engine = Engine(s, tiny_bundle, Catalogue.empty())
    yield Pipeline(engine)
    await engine.close()


def test_the_request_s_own_deadline_wins(pipeline: Pipeline) -> None:
    for transport in ("http", "grpc", "ext_proc"):
        assert pipeline.deadline_ms(40, transport=transport, time_remaining_s=9.0) == 40


def test_a_grpc_deadline_keeps_a_fifth_for_the_fallback_rule(pipeline: Pipeline) -> None:
    assert pipeline.deadline_ms(0, transport="grpc", time_remaining_s=0.5) == 400
    assert pipeline.deadline_ms(0, transport="grpc", time_remaining_s=0.0) == 1


def test_ext_proc_has_its_own_deadline_then_the_default(pipeline: Pipeline) -> None:
    assert pipeline.deadline_ms(0, transport="ext_proc") == 100
    assert pipeline.deadline_ms(0, transport="http") == 250
    assert pipeline.deadline_ms(0, transport="grpc") == 250  # no deadline from the caller


def in_flight_gauge(p: Pipeline) -> float | None:
    return p.metrics.registry.get_sample_value("routeiq_in_flight")


async def test_in_flight_reaches_the_gauge_at_each_flush(pipeline: Pipeline) -> None:
    """The gauge is set from the pipeline's count when metrics flush (every scrape does),
    not moved twice per request on the hot path."""
    async with pipeline.serve("Route", transport="http", request_id="a", carrier=None,
                              authorization=None):
        async with pipeline.serve("Route", transport="http", request_id="b", carrier=None,
                                  authorization=None):
            assert pipeline.in_flight == 2
            assert in_flight_gauge(pipeline) == 0  # not yet flushed
            pipeline.metrics.flush()
            assert in_flight_gauge(pipeline) == 2
        pipeline.metrics.flush()
        assert in_flight_gauge(pipeline) == 1
    pipeline.metrics.flush()
    assert in_flight_gauge(pipeline) == 0
