"""The shipped default router (the sidecar's default bundle, as ``routeiq-sidecar serve``
starts it) on the example config's deployments, in every LiteLLM lane: easy -> cheap and
hard -> strong, through the SDK strategy (sync and async) and the routing plugin in a
``litellm.Router(plugins=[...])`` (how the proxy builds its router from
``router_settings.plugins``). The other stub tests use a tiny random bundle and say nothing
about where the real router sends a prompt; scripts/demo-litellm.sh (test_litellm_demo.py)
shows the same through a real proxy process.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tests.litellm_support import (
    DEPLOYMENTS,
    EASY,
    HARD,
    Sidecar,
    deployment,
    msgs,
    start_sidecar,
)

with warnings.catch_warnings():  # pydantic warns about LiteLLM's own TypedDicts at import
    warnings.simplefilter("ignore", UserWarning)
    from litellm import Router
from routeiq_litellm import RouteIQPlugin, install

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore:Item.*ReadOnly:UserWarning")

EXPECTED = {EASY: "cheap", HARD: "strong"}


@pytest.fixture(scope="module")
def default_sidecar() -> Iterator[Sidecar]:
    sc = start_sidecar(None, None, timeout=900)  # the first run builds the default bundle
    yield sc
    sc.stop()


def example_router(**kw: Any) -> Router:
    return Router(model_list=[deployment(d, m) for d, m in DEPLOYMENTS], num_retries=0, **kw)


def served(resp: Any) -> str:
    return str(resp._hidden_params["model_id"])


async def test_sdk_sync_and_async(default_sidecar: Sidecar) -> None:
    router = example_router()
    strategy = install(router, url=default_sidecar.http, timeout_ms=10_000, feedback=False)
    for prompt, want in EXPECTED.items():
        assert served(router.completion(model="auto", messages=msgs(prompt))) == want
        assert served(await router.acompletion(model="auto", messages=msgs(prompt))) == want
    stats = strategy.stats.snapshot()
    assert stats["routed"] == 4 and stats["fallback"] == 0


async def test_routing_plugin(default_sidecar: Sidecar) -> None:
    plugin = RouteIQPlugin(url=default_sidecar.http, timeout_ms=10_000, top_k=1)
    router = example_router(plugins=[plugin])
    plugin.router = router
    for prompt, want in EXPECTED.items():
        assert served(await router.acompletion(model="auto", messages=msgs(prompt))) == want
    stats = plugin.stats.snapshot()
    assert stats["routed"] == 2 and stats["fallback"] == 0
