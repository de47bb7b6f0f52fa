"""Which text of a chat request the encoder sees, and a cheap token estimate of the whole request.

Rules (documented in the README):
- With ``messages``: the last ``user`` message is the prompt. When it is short (under
  ``SHORT_TURN_CHARS``), the previous user message is prepended for context ("and in Python?").
  System, assistant and tool messages are not embedded (they describe the agent, not the ask),
  but they count towards the token estimate and the structural features.
- With ``prompt`` only: the prompt.
- The selected text is cut to ``max_chars`` (head two thirds + tail third, joined by " ... "),
  so tokenisation cost is bounded however long the conversation is; the tokenizer then
  truncates to the bundle's max sequence length.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from routeiq_sidecar.types import ChatMessage

SHORT_TURN_CHARS = 40
CHARS_PER_TOKEN = 4.0  # the token estimate of a request (and of a training row's prompt)
CLIP_CHARS_PER_TOKEN = 6  # the clip: headroom over the tokenizer's own truncation
DEFAULT_MAX_SEQ_LENGTH = 256
CLIP_SEP = " ... "
_CODE_RE = re.compile(r"```|\bdef \w+\(|\bclass \w+|#include|\bfunction\s*\w*\(|;\s*$", re.M)
_MATH_RE = re.compile(
    r"\\(frac|int|sum|sqrt|prove)|\$[^$]+\$|\b(prove|theorem|lemma|integral)\b", re.I
)


@dataclass(frozen=True)
class SelectedText:
    text: str
    estimated_prompt_tokens: int
    turn_count: int
    has_tool_messages: bool

    @functools.cached_property
    def has_code(self) -> bool:
        """Code markers in the text (read only by heads with structural features)."""
        return bool(_CODE_RE.search(self.text))

    @functools.cached_property
    def has_math(self) -> bool:
        return bool(_MATH_RE.search(self.text))


def clip_chars(encoder: Mapping[str, Any] | None = None) -> int:
    """How much selected text the encoder can use: ``max_seq_length`` (the manifest's encoder
    entry) at ~6 characters a token; the server and the training embed the same text."""
    seq = (encoder or {}).get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH)
    return int(seq) * CLIP_CHARS_PER_TOKEN


def estimate_tokens(chars: int) -> int:
    return int(chars / CHARS_PER_TOKEN) + 1 if chars else 0


def clip(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters: head two thirds + " ... " + tail third."""
    if len(text) <= max_chars:
        return text
    budget = max_chars - len(CLIP_SEP)
    if budget < 2:
        return text[: max(0, max_chars)]
    head = (budget * 2) // 3
    tail = budget - head
    return text[:head] + CLIP_SEP + text[-tail:]


def select_text(messages: tuple[ChatMessage, ...], prompt: str, max_chars: int) -> SelectedText:
    if messages:
        users = [m.content for m in messages if m.role == "user" and m.content.strip()]
        if users:
            text = users[-1]
            if len(text.strip()) < SHORT_TURN_CHARS and len(users) > 1:
                text = clip(users[-2], max_chars // 2) + "\n" + text
        else:  # e.g. a tool-result turn only: fall back to the last non-empty message
            text = next((m.content for m in reversed(messages) if m.content.strip()), "")
        total_chars = sum(len(m.content) for m in messages)
        turns = len(messages)
        tools = any(m.role == "tool" for m in messages)
    else:
        text, total_chars, turns, tools = prompt, len(prompt), 1 if prompt else 0, False
    text = clip(text.strip(), max_chars)
    return SelectedText(
        text=text,
        estimated_prompt_tokens=estimate_tokens(total_chars),
        turn_count=turns,
        has_tool_messages=tools,
    )
