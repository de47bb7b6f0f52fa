"""Which text of a chat request is embedded, the token estimate, and the structural features."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from routeiq_sidecar.text import (
    SHORT_TURN_CHARS,
    clip,
    estimate_tokens,
    select_text,
)
from routeiq_sidecar.types import ChatMessage

MAX = 1536


def msgs(*pairs: tuple[str, str]) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(role, content) for role, content in pairs)


LONG_Q1 = "Explain the difference between a process and a thread in operating systems."
LONG_Q2 = "Now compare green threads with OS threads, including scheduling and blocking I/O."


def test_last_user_message_selected() -> None:
    sel = select_text(
        msgs(
            ("system", "SYSTEM-PROMPT"),
            ("user", LONG_Q1),
            ("assistant", "ASSISTANT-ANSWER"),
            ("user", LONG_Q2),
        ),
        "",
        MAX,
    )
    assert sel.text == LONG_Q2
    assert sel.turn_count == 4


def test_short_follow_up_gets_previous_user_turn() -> None:
    follow = "and in Python?"
    assert len(follow) < SHORT_TURN_CHARS
    sel = select_text(
        msgs(("user", LONG_Q1), ("assistant", "ASSISTANT-ANSWER"), ("user", follow)), "", MAX
    )
    assert sel.text == LONG_Q1 + "\n" + follow
    assert "ASSISTANT-ANSWER" not in sel.text


def test_short_single_turn_stays_alone() -> None:
    sel = select_text(msgs(("system", "be brief"), ("user", "hi there")), "", MAX)
    assert sel.text == "hi there"


def test_long_last_turn_not_joined() -> None:
    assert len(LONG_Q2) >= SHORT_TURN_CHARS
    sel = select_text(msgs(("user", LONG_Q1), ("user", LONG_Q2)), "", MAX)
    assert sel.text == LONG_Q2


def test_blank_user_messages_skipped() -> None:
    sel = select_text(msgs(("user", LONG_Q1), ("user", "   ")), "", MAX)
    assert sel.text == LONG_Q1


def test_system_assistant_tool_not_embedded_but_counted() -> None:
    conv = msgs(
        ("system", "SYSTEM " * 50),
        ("user", LONG_Q1),
        ("assistant", "ASSISTANT " * 40),
        ("tool", "TOOLRESULT " * 30),
        ("user", LONG_Q2),
    )
    sel = select_text(conv, "", MAX)
    for marker in ("SYSTEM", "ASSISTANT", "TOOLRESULT"):
        assert marker not in sel.text
    total = sum(len(m.content) for m in conv)
    assert sel.estimated_prompt_tokens == estimate_tokens(total)
    only_user = select_text(msgs(("user", LONG_Q1), ("user", LONG_Q2)), "", MAX)
    assert sel.estimated_prompt_tokens > only_user.estimated_prompt_tokens
    assert sel.has_tool_messages and not only_user.has_tool_messages


def test_no_user_message_falls_back_to_last_non_empty() -> None:
    sel = select_text(
        msgs(("system", "sys"), ("tool", "result text"), ("assistant", "  ")), "", MAX
    )
    assert sel.text == "result text"
    assert sel.has_tool_messages


def test_prompt_only() -> None:
    sel = select_text((), "  What is 2+2?  ", MAX)
    assert sel.text == "What is 2+2?"
    assert sel.turn_count == 1
    assert sel.estimated_prompt_tokens == estimate_tokens(len("  What is 2+2?  "))


def test_empty_input() -> None:
    sel = select_text((), "", MAX)
    assert sel.text == ""
    assert sel.turn_count == 0
    assert sel.estimated_prompt_tokens == 0


def test_estimate_tokens() -> None:
    assert estimate_tokens(0) == 0
    assert estimate_tokens(1) == 1
    assert estimate_tokens(4000) == 1001
    assert estimate_tokens(400) < estimate_tokens(4000)


# --- clip
def test_clip_short_text_unchanged() -> None:
    assert clip("hello", 10) == "hello"
    assert clip("x" * 10, 10) == "x" * 10


def test_clip_keeps_head_and_tail_and_bounds_length() -> None:
    text = "HEAD" + "m" * 5000 + "TAIL"
    out = clip(text, 300)
    assert len(out) <= 300
    assert out.startswith("HEAD")
    assert out.endswith("TAIL")
    assert " ... " in out
    head, tail = out.split(" ... ")
    assert len(head) > len(tail)  # two thirds head, one third tail
    assert text.startswith(head) and text.endswith(tail)


@given(st.text(max_size=400), st.integers(min_value=0, max_value=500))
def test_clip_never_exceeds_max(text: str, max_chars: int) -> None:
    out = clip(text, max_chars)
    assert len(out) <= max(max_chars, 0)
    if len(text) <= max_chars:
        assert out == text


def test_long_conversation_bounded() -> None:
    """200 messages, ~8k tokens: the embedded text stays within max_chars."""
    turns: list[tuple[str, str]] = [("system", "You are a helpful agent. " * 8)]
    for i in range(199):
        role = ("user", "assistant", "tool")[i % 3]
        turns.append((role, f"turn {i}: " + "lorem ipsum dolor sit amet " * 6))
    turns[-1] = ("user", "final question: " + "why is the sky blue and how do we know " * 100)
    conv = msgs(*turns)
    assert len(conv) == 200
    sel = select_text(conv, "", MAX)
    assert 7000 <= sel.estimated_prompt_tokens <= 10_000
    assert len(sel.text) <= MAX
    assert sel.text.startswith("final question:")
    assert sel.turn_count == 200


def test_short_follow_up_after_huge_turn_bounded() -> None:
    conv = msgs(("user", "A" * 20_000), ("assistant", "ok"), ("user", "and why?"))
    sel = select_text(conv, "", MAX)
    assert len(sel.text) <= MAX
    assert sel.text.endswith("and why?")


# --- features
def test_code_feature() -> None:
    for text in (
        "```python\nprint(1)\n```",
        "def parse(x):\n    return x",
        "#include <stdio.h>",
        "class Foo extends Bar {}",
    ):
        assert select_text(msgs(("user", text)), "", MAX).has_code, text
    assert not select_text(msgs(("user", "tell me a story about a cat")), "", MAX).has_code


def test_math_feature() -> None:
    for text in (
        r"compute \frac{1}{2} + \sqrt{2}",
        "Prove that there are infinitely many primes",
        "evaluate $x^2 + 1$ at 3",
        "what is the integral of sin x",
    ):
        assert select_text((), text, MAX).has_math, text
    assert not select_text((), "book a table for two tonight", MAX).has_math


def test_features_from_selected_text_only() -> None:
    conv = msgs(
        ("system", "```code``` and \\frac{a}{b}"), ("user", "recommend a good novel please")
    )
    sel = select_text(conv, "", MAX)
    assert not sel.has_code and not sel.has_math and not sel.has_tool_messages
