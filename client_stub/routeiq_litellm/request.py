"""Build the ``RouteRequest`` JSON from what LiteLLM hands a routing strategy, and keep the
decision where LiteLLM's callbacks will find it.

LiteLLM passes ``messages`` (chat) or ``input`` (embeddings, responses) plus ``request_kwargs``,
the caller's keyword arguments: ``user``, ``metadata`` (``litellm_metadata`` on some call
types), ``tools``, ``response_format``, ``litellm_call_id``/``litellm_trace_id``.
Per-request overrides ride in the metadata: ``routeiq_profile``, ``routeiq_strategy``,
``routeiq_session_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

DECISION_KEY = "routeiq_decision_id"  # the latest decision (what served, if it succeeded)
SELECTED_KEY = "routeiq_selected_id"
# deployment id -> decision id, one per attempt: a retry must not re-label an earlier
# attempt's failure event, which LiteLLM may log after the retry was routed.
DECISIONS_KEY = "routeiq_decisions"
SOURCE_KEY = "routeiq_source"  # which strategy decided: its feedback logger reports it
METADATA_KEYS = ("litellm_metadata", "metadata")
# Where LiteLLM stores the routing plugins' signals in the request metadata; the proxy
# plugin's decision is under its "routeiq" key.
SIGNALS_KEY = "routing_plugin_signals"


def metadata_of(request_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's metadata dict (``litellm_metadata`` first, as LiteLLM does for non-chat)."""
    if not request_kwargs:
        return {}
    for key in METADATA_KEYS:
        value = request_kwargs.get(key)
        if isinstance(value, dict):
            return value
    return {}


def remember_decision(
    request_kwargs: dict[str, Any] | None, decision_id: str, selected: str, source: str = ""
) -> None:
    """Store the decision in the request's metadata: LiteLLM copies it into the logging
    payload (``kwargs["litellm_params"]["metadata"]``), where the feedback logger reads it."""
    if request_kwargs is None:
        return
    for key in METADATA_KEYS:
        value = request_kwargs.get(key)
        if isinstance(value, dict):
            break
    else:
        value = request_kwargs["metadata"] = {}
    stamp_decision(value, decision_id, [selected], source)


def stamp_decision(
    metadata: dict[str, Any], decision_id: str, deployment_ids: list[str], source: str = ""
) -> None:
    """Record ``decision_id`` as the decision behind an attempt on any of ``deployment_ids``
    (the plugin: every deployment of the selected model; the strategy: the one it picked)."""
    if not deployment_ids:
        return
    metadata[DECISION_KEY] = decision_id
    metadata[SELECTED_KEY] = deployment_ids[0]
    metadata[SOURCE_KEY] = source
    per_attempt = metadata.get(DECISIONS_KEY)
    if not isinstance(per_attempt, dict):
        per_attempt = metadata[DECISIONS_KEY] = {}
    for did in deployment_ids:
        per_attempt[did] = decision_id


def forget_decision(request_kwargs: dict[str, Any] | None) -> None:
    """Clear the latest decision before a new attempt (one that falls back has none)."""
    meta = metadata_of(request_kwargs)
    meta.pop(DECISION_KEY, None)
    meta.pop(SELECTED_KEY, None)


def plugin_decision(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The proxy plugin's ``signals["routeiq"]`` in a request's metadata, if it decided."""
    signals = metadata.get(SIGNALS_KEY)
    found = signals.get("routeiq") if isinstance(signals, Mapping) else None
    if isinstance(found, Mapping) and found.get("decision_id"):
        return found
    return None


def decision_source(metadata: Mapping[str, Any]) -> str | None:
    """Which strategy or plugin made the request's decision (its ``source`` tag)."""
    found = plugin_decision(metadata)
    if found is not None:
        return str(found.get(SOURCE_KEY) or "")
    value = metadata.get(SOURCE_KEY)
    return str(value) if value is not None else None


def decision_for(metadata: Mapping[str, Any], deployment_id: str | None) -> str | None:
    """The decision behind the attempt that ran on ``deployment_id`` (None if not routed, or
    if the plugin's narrowed choice was served by another model than the sidecar selected)."""
    found = plugin_decision(metadata)
    if found is not None:
        ids = found.get("deployment_ids") or ()
        if deployment_id is None or deployment_id in ids:
            return str(found["decision_id"])
        return None
    per_attempt = metadata.get(DECISIONS_KEY)
    if deployment_id and isinstance(per_attempt, Mapping):
        found = per_attempt.get(deployment_id)
        return str(found) if found else None
    if deployment_id is None or metadata.get(SELECTED_KEY) == deployment_id:
        found = metadata.get(DECISION_KEY)
        return str(found) if found else None
    return None


def _text(content: Any) -> tuple[str, bool]:
    """Message content as text, and whether it carried an image."""
    if content is None:
        return "", False
    if isinstance(content, str):
        return content, False
    if isinstance(content, list):
        parts: list[str] = []
        image = False
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping):
                kind = part.get("type")
                text = part.get("text")
                if kind in ("text", "input_text", "output_text") and isinstance(text, str):
                    parts.append(text)
                elif kind in ("image_url", "input_image", "image"):
                    image = True
        return "\n".join(parts), image
    return str(content), False


def convert_messages(messages: Any) -> tuple[list[dict[str, str]], bool]:
    """OpenAI-style messages as RouteIQ ``Message`` JSON; True if any carried an image."""
    out: list[dict[str, str]] = []
    image = False
    for m in messages or ():
        if not isinstance(m, Mapping):
            continue
        text, has_image = _text(m.get("content"))
        image = image or has_image
        msg = {"role": str(m.get("role") or "user"), "content": text}
        if isinstance(m.get("name"), str):
            msg["name"] = m["name"]
        out.append(msg)
    return out, image


def required_capabilities(request_kwargs: Mapping[str, Any] | None, image: bool) -> list[str]:
    """What the request itself needs: tools, vision, json (structured output)."""
    kw = request_kwargs or {}
    caps: list[str] = []
    if kw.get("tools") or kw.get("functions"):
        caps.append("tools")
    if image:
        caps.append("vision")
    fmt = kw.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_schema", "json_object"):
        caps.append("json")
    return caps


def _first_str(*values: Any) -> str:
    for v in values:
        if isinstance(v, str) and v:
            return v
    return ""


def build_route_request(
    *,
    model_group: str,
    candidates: list[dict[str, Any]],
    messages: Any = None,
    input: Any = None,
    request_kwargs: Mapping[str, Any] | None = None,
    profile: str = "",
    strategy: str = "",
    deadline_ms: int = 0,
) -> dict[str, Any]:
    """The ``RouteRequest`` as proto JSON (snake_case), ready for REST or ``ParseDict``."""
    kw = request_kwargs or {}
    meta = metadata_of(kw)
    # The proxy keeps the metadata a client sent under "requester_metadata".
    req = meta.get("requester_metadata")
    req = req if isinstance(req, Mapping) else {}
    body: dict[str, Any] = {
        "request_id": _first_str(kw.get("litellm_call_id"), kw.get("litellm_trace_id"))
        or uuid.uuid4().hex,
        "model_group": model_group,
        "candidates": candidates,
    }
    image = False
    if messages is not None:
        body["messages"], image = convert_messages(messages)
    elif isinstance(input, str):
        body["prompt"] = input
    elif isinstance(input, list):
        if input and all(isinstance(i, Mapping) for i in input):
            body["messages"], image = convert_messages(input)
        else:
            body["prompt"] = "\n".join(str(i) for i in input if isinstance(i, str | int | float))
    session = _first_str(
        req.get("routeiq_session_id"), meta.get("routeiq_session_id"), meta.get("session_id"),
        kw.get("litellm_session_id")
    )
    user = _first_str(
        kw.get("user"),
        meta.get("user_id"),
        meta.get("user_api_key_end_user_id"),
        meta.get("user_api_key_user_id"),
    )
    if session:
        body["session_id"] = session
    if user:
        body["user_id"] = user
    profile = _first_str(req.get("routeiq_profile"), meta.get("routeiq_profile"), profile)
    strategy = _first_str(req.get("routeiq_strategy"), meta.get("routeiq_strategy"), strategy)
    if profile:
        body["profile"] = profile
    if strategy:
        body["strategy"] = strategy
    caps = required_capabilities(kw, image)
    if caps:
        body["required_capabilities"] = caps
    if deadline_ms > 0:
        body["deadline_ms"] = deadline_ms
    return body
