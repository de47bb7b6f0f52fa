"""An OpenAI-style chat or completion body (what passes through Envoy) as a ``RouteInput``.

Content flattening follows the LiteLLM stub's (client_stub/routeiq_litellm/request.py): a
string, or a list whose string parts and ``text`` / ``input_text`` / ``output_text`` parts
count, so the sidecar embeds the same text whichever way the request arrived.
"""

from __future__ import annotations

import json
from typing import Any

from routeiq_sidecar.types import ChatMessage, RouteInput

TEXT_PARTS = ("text", "input_text", "output_text")


class NotRoutable(Exception):
    """This body cannot be routed; the message says why (the request then passes unchanged)."""


def content_text(content: Any, where: str) -> str:
    """OpenAI content: a string, null, or a list of parts of which the text parts count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for p in content:
            if isinstance(p, str):
                parts.append(p)
            elif (
                isinstance(p, dict)
                and p.get("type") in TEXT_PARTS
                and isinstance(p.get("text"), str)
            ):
                parts.append(p["text"])
        return "\n".join(parts)
    raise NotRoutable(f"{where}.content is neither a string nor a list of parts")


def chat_messages(raw: Any) -> tuple[ChatMessage, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise NotRoutable("messages is not a list")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise NotRoutable(f"messages[{i}] has no role")
        name = m.get("name")
        out.append(
            ChatMessage(
                m["role"],
                content_text(m.get("content"), f"messages[{i}]"),
                name if isinstance(name, str) else "",
            )
        )
    return tuple(out)


def route_input(body: bytes, request_id: str, profile: str) -> tuple[RouteInput, dict[str, Any]]:
    """The request to route (its ``model`` is the model group) and the parsed body."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise NotRoutable("body is not JSON") from None
    if not isinstance(doc, dict):
        raise NotRoutable("body is not a JSON object")
    model = doc.get("model")
    if not isinstance(model, str) or not model.strip():
        raise NotRoutable("body has no model")
    prompt = doc.get("prompt")
    messages = chat_messages(doc.get("messages"))
    if not messages and not isinstance(prompt, str):
        raise NotRoutable("body has neither messages nor prompt")
    user = doc.get("user")
    inp = RouteInput(
        request_id=request_id,
        model_group=model,
        messages=messages,
        prompt=prompt if isinstance(prompt, str) else "",
        profile=profile,
        user_id=user if isinstance(user, str) else "",
    )
    return inp, doc
