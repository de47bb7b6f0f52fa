"""The OpenAI body reader (Envoy ext_proc) and the LiteLLM stub flatten content the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from routeiq_litellm.request import convert_messages

from routeiq_sidecar.api.openai_body import NotRoutable, chat_messages, route_input

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": None},
    {
        "role": "user",
        "name": "alice",
        "content": [
            {"type": "text", "text": "look at"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            "a bare string part",
            {"type": "input_text", "text": "responses-API input"},
        ],
    },
    {"role": "assistant", "content": [{"type": "output_text", "text": "an earlier answer"}]},
    {"role": "user", "content": [{"type": "text", "text": 3}, {"type": "audio"}]},
]


def test_the_sidecar_and_the_stub_embed_the_same_text() -> None:
    ours = chat_messages(MESSAGES)
    stub, has_image = convert_messages(MESSAGES)
    assert [(m.role, m.content, m.name) for m in ours] == [
        (m["role"], m["content"], m.get("name", "")) for m in stub
    ]
    assert ours[2].content == "look at\na bare string part\nresponses-API input"
    assert has_image


def test_a_body_becomes_a_route_input() -> None:
    body = json.dumps({"model": "chat", "messages": MESSAGES[:1], "user": "u1"}).encode()
    inp, doc = route_input(body, "rid", "eco")
    got = (inp.request_id, inp.model_group, inp.profile, inp.user_id)
    assert got == ("rid", "chat", "eco", "u1")
    assert inp.deadline_ms == 0  # the pipeline applies the deadline policy
    assert doc["model"] == "chat"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"messages": []}', "no model"),
        (b'{"model": "m"}', "neither messages nor prompt"),
        (b'{"model": "m", "messages": {}}', "messages is not a list"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', r"messages\[0\] has no role"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 1}]}', "neither a string"),
    ],
)
def test_bodies_that_cannot_be_routed_say_why(body: bytes, why: str) -> None:
    with pytest.raises(NotRoutable, match=why):
        route_input(body, "rid", "")
