"""The few LiteLLM calls the stub makes, each chosen by feature detection on public API.

LiteLLM's router changed shape across the supported releases (see ``SUPPORTED``):

==========================  ===================================  ==============================
what                        1.94 .. 1.109                         1.110 and later
==========================  ===================================  ==============================
install a custom strategy   ``set_custom_routing_strategy``       ``register_plugin``
usable deployments          ``async_get_healthy_deployments``     ``select(kind="healthy")``
a model group's deployments ``get_model_list(model_name=...)``    ``registry().deployments(...)``
==========================  ===================================  ==============================

Nothing here reads ``router.__dict__`` or calls a private member; the presence of the newer
entry point decides, so a release in between works with whichever it has. LiteLLM has no sync
listing of usable deployments, so the sync path runs the async one on a private event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

# The releases the stub is tested against (scripts/install.sh, the .venv-litellm-* lanes);
# client_stub/pyproject.toml declares the same range.
SUPPORTED = (">=1.94.0", "<1.111")
OLDEST_TESTED, NEWEST_TESTED = "1.94.0", "1.110.2"

Deployment = dict[str, Any]
T = TypeVar("T")


def register_strategy(router: Any, strategy: Any) -> str:
    """Make ``strategy`` pick every deployment of ``router``; returns the entry point used."""
    register = getattr(router, "register_plugin", None)
    if callable(register):
        register(strategy)
        return "register_plugin"
    router.set_custom_routing_strategy(strategy)
    return "set_custom_routing_strategy"


async def healthy_deployments(
    router: Any,
    model: str,
    request_kwargs: dict[str, Any],
    messages: Any = None,
    input: Any = None,
    specific_deployment: bool | None = False,
) -> list[Deployment] | Deployment:
    """What LiteLLM itself would pick from (aliases, access groups, health checks, cooldowns,
    blocked deployments, pre-call checks, tags, order); one dict when a deployment was named.

    Raises what LiteLLM raises when nothing is usable: that is LiteLLM's verdict on the call.
    """
    select = getattr(router, "select", None)
    if callable(select) and callable(getattr(router, "registry", None)):
        result: Any = await select(
            model,
            request_kwargs,
            kind="healthy",
            messages=messages,
            input=input,
            specific_deployment=specific_deployment,
        )
    else:
        result = await router.async_get_healthy_deployments(
            model=model,
            request_kwargs=request_kwargs,
            messages=messages,
            input=input,
            specific_deployment=specific_deployment,
        )
    if isinstance(result, Mapping):
        return dict(result)
    return [dict(d) for d in result]


def group_deployments(router: Any, model_group: str) -> list[Deployment]:
    """Every deployment configured for ``model_group`` (usable or not), as model_list dicts."""
    registry = getattr(router, "registry", None)
    if callable(registry):
        found: Any = registry().deployments(model_group)
    else:
        found = router.get_model_list(model_name=model_group)
    return [_as_dict(d) for d in found or ()]


def _as_dict(deployment: Any) -> Deployment:
    if isinstance(deployment, Mapping):
        return dict(deployment)
    dump = getattr(deployment, "model_dump", None)  # a pydantic Deployment
    return dict(dump(exclude_none=True)) if callable(dump) else dict(deployment)


_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="routeiq-sync")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also when this thread already runs a loop
    (a sync LiteLLM call made from async code): then on a worker thread's own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _POOL.submit(asyncio.run, coro).result()
