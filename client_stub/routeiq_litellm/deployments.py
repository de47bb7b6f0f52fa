"""The deployments LiteLLM itself still considers usable for a request.

Async: ``Router.async_get_healthy_deployments`` (public, the same list LiteLLM's own strategies
pick from: aliases, access groups, health checks, cooldowns, blocked deployments, pre-call
checks, tags, order). LiteLLM has no sync counterpart, so the sync path replays the filters of
``Router.get_available_deployment`` in the same order. Both may remove LiteLLM-internal keys
from ``request_kwargs`` (as LiteLLM's own selection does); ``KwargsSnapshot`` puts them back
when the stub falls back to LiteLLM's usual selection, which runs those filters again.
"""

from __future__ import annotations

from typing import Any

# Keys LiteLLM's selection consumes (pops) from request_kwargs: they must not reach the provider.
CONSUMED_KEYS = ("_target_order", "_excluded_deployment_ids", "_retry_skipped_deployment_ids")


class KwargsSnapshot:
    """Top-level keys of ``request_kwargs`` before selection, to undo LiteLLM's pops."""

    def __init__(self, request_kwargs: dict[str, Any]) -> None:
        self._kwargs = request_kwargs
        self._before = dict(request_kwargs)

    def restore(self) -> None:
        for key, value in self._before.items():
            if key not in self._kwargs:
                self._kwargs[key] = value


async def healthy_deployments_async(
    router: Any,
    model: str,
    messages: Any,
    input: Any,
    specific_deployment: bool | None,
    request_kwargs: dict[str, Any],
) -> list[dict[str, Any]] | dict[str, Any]:
    """A list of candidates, or one dict when the caller pinned a specific deployment."""
    result: list[dict[str, Any]] | dict[str, Any] = await router.async_get_healthy_deployments(
        model=model,
        request_kwargs=request_kwargs,
        messages=messages,
        input=input,
        specific_deployment=specific_deployment,
    )
    return result


def healthy_deployments_sync(
    router: Any,
    model: str,
    messages: Any,
    input: Any,
    specific_deployment: bool | None,
    request_kwargs: dict[str, Any],
) -> list[dict[str, Any]] | dict[str, Any]:
    """The filters of ``Router.get_available_deployment`` before its strategy picks one."""
    import litellm
    from litellm.router_utils.cooldown_handlers import _get_cooldown_deployments

    model, healthy = router._common_checks_available_deployment(
        model=model,
        messages=messages,
        input=input,
        specific_deployment=specific_deployment,
        request_kwargs=request_kwargs,
    )
    if isinstance(healthy, dict):
        return healthy
    health_filter = getattr(router, "_filter_health_check_unhealthy_deployments", None)
    if health_filter is not None:
        healthy = health_filter(healthy_deployments=healthy, parent_otel_span=None)
    cooldowns = _get_cooldown_deployments(litellm_router_instance=router, parent_otel_span=None)
    healthy = router._filter_cooldown_deployments(
        healthy_deployments=healthy, cooldown_deployments=cooldowns
    )
    blocked_filter = getattr(router, "_filter_blocked_deployments", None)
    if blocked_filter is not None:
        healthy = blocked_filter(healthy)
    has_input = messages is not None or input is not None
    if getattr(router, "enable_pre_call_checks", False) and has_input:
        healthy = router._pre_call_checks(
            model=model,
            healthy_deployments=healthy,
            messages=messages,
            input=input,
            request_kwargs=request_kwargs,
        )
    healthy = litellm.utils.get_order_filtered_deployments(
        healthy, target_order=request_kwargs.pop("_target_order", None)
    )
    excluded = getattr(litellm.utils, "get_excluded_filtered_deployments", None)
    if excluded is not None:
        healthy = excluded(
            healthy, excluded_deployment_ids=request_kwargs.pop("_excluded_deployment_ids", None)
        )
        skipped = request_kwargs.pop("_retry_skipped_deployment_ids", None)
        if skipped:
            healthy = excluded(healthy, excluded_deployment_ids=list(skipped)) or healthy
    return list(healthy)
