"""Realistic request shapes for benchmarks: short, medium, long and multi-turn agent traffic."""

from __future__ import annotations

import random
from typing import Any

SHORT = [
    "hi!",
    "What is 2+2?",
    "thanks, that worked",
    "Translate 'good night' to Spanish.",
    "Who wrote Hamlet?",
    "What's the capital of Japan?",
    "Is 97 prime?",
    "ok, next step please",
]
MEDIUM = [
    "Write a Python function that merges two sorted lists into one sorted list and explain "
    "its time complexity.",
    "Summarise the main causes of the French Revolution in one paragraph for a high-school "
    "student.",
    "Explain the difference between TCP and UDP, and when a game developer would pick each.",
    "Draft a polite email asking my landlord to fix a leaking kitchen tap this week.",
    "What are the trade-offs between B-trees and LSM-trees for a write-heavy workload?",
]
LONG_PARAGRAPH = (
    "Our payment service runs on Kubernetes with three replicas behind an Envoy ingress. Since "
    "Tuesday, about one request in two hundred times out after exactly 30 seconds. The "
    "timeouts cluster around deploys, the database shows no slow queries, connection pool "
    "metrics look flat, and retries mostly succeed. We use gRPC between services with "
    "keepalives disabled, and an NLB in front of the ingress with a 350 second idle timeout. "
)
LONG = [
    LONG_PARAGRAPH * 4 + "Walk me through a systematic diagnosis and the most likely root cause.",
    "Prove that every finite integral domain is a field, then generalise the argument to "
    "finite rings without zero divisors, and discuss what fails for infinite rings. "
    + LONG_PARAGRAPH,
]


def _agent_conversation(turns: int, rng: random.Random) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": "You are a coding agent with shell and editor tools."}]
    for i in range(turns):
        msgs.append({"role": "user", "content": rng.choice(MEDIUM + SHORT)})
        msgs.append({"role": "assistant", "content": f"Calling tool step {i}: " + LONG_PARAGRAPH})
        msgs.append({"role": "tool", "content": "exit code 0\n" + "log line\n" * 20})
    msgs.append({"role": "user", "content": "Now fix the failing test and explain the change."})
    return msgs


def long_conversation(target_tokens: int = 8000, messages: int = 200) -> list[dict[str, str]]:
    """About ``target_tokens`` tokens (chars / 4) over ``messages`` messages."""
    per = max(1, target_tokens * 4 // messages)
    filler = (LONG_PARAGRAPH * (per // len(LONG_PARAGRAPH) + 1))[:per]
    roles = ["user", "assistant", "tool", "assistant"]
    msgs = [{"role": roles[i % 4], "content": filler} for i in range(messages - 1)]
    msgs.append({"role": "user", "content": "Given all of the above, what should we do next?"})
    return msgs


def prompt_of_tokens(tokens: int) -> str:
    return (LONG_PARAGRAPH * (tokens * 4 // len(LONG_PARAGRAPH) + 1))[: tokens * 4]


def mixed_requests(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` REST/proto-JSON route bodies: 40% short, 30% medium, 15% long, 15% multi-turn."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        r = rng.random()
        body: dict[str, Any]
        if r < 0.4:
            body = {"prompt": rng.choice(SHORT) + f" ({i})"}
        elif r < 0.7:
            body = {"prompt": rng.choice(MEDIUM) + f" ({i})"}
        elif r < 0.85:
            body = {"prompt": rng.choice(LONG) + f" ({i})"}
        else:
            body = {"messages": _agent_conversation(rng.randint(2, 8), rng)}
        out.append(body)
    return out


CANDIDATES: list[dict[str, Any]] = [
    {
        "id": "cheap",
        "model": "openai/gpt-4o-mini",
        "input_cost_per_mtok": 0.15,
        "output_cost_per_mtok": 0.6,
    },
    {"id": "mid", "model": "openai/gpt-4o", "input_cost_per_mtok": 2.5, "output_cost_per_mtok": 10},
    {
        "id": "strong",
        "model": "anthropic/claude-opus-4",
        "input_cost_per_mtok": 15,
        "output_cost_per_mtok": 75,
        "capabilities": ["tools", "reasoning"],
    },
]


def selected_text(body: dict[str, Any]) -> str:
    """The text the sidecar embeds for ``body`` (mirrors text.py for the bare floor)."""
    from routeiq_sidecar.text import clip_chars, select_text
    from routeiq_sidecar.types import ChatMessage

    msgs = tuple(ChatMessage(m["role"], m["content"]) for m in body.get("messages", []))
    return select_text(msgs, body.get("prompt", ""), clip_chars()).text
