"""Bounds on every caller-supplied string and number (a leaf: no imports from the package).

A request field over its bound is refused with a 400 naming the field; nothing a caller sends
is kept, echoed or logged at a size the caller chose. docs/operations.md lists these with the
settings that bound the rest (body size, text, messages, candidates, timeouts).
"""

from __future__ import annotations

from pathlib import Path

MAX_REQUEST_ID_CHARS = 128  # request_id (body or x-request-id header), decision_id
MAX_ID_CHARS = 256  # session_id, user_id, model_group, candidate id and model, strategy
MAX_NAME_CHARS = 256  # messages[].name
MAX_MAP_ENTRIES = 64  # metadata, a candidate's labels
MAX_MAP_KEY_CHARS = 128
MAX_MAP_VALUE_CHARS = 1024
MAX_ERROR_CHARS = 2048  # feedback error text
MAX_PRICE_PER_MTOK = 1_000_000.0  # USD per million tokens; beyond it is a unit mistake
MAX_TRADEOFF = 1_000.0  # quality_cost_tradeoff (lambda)
MAX_LATENCY_MS = 86_400_000.0  # feedback latency_ms: one day
MAX_COST_USD = 1_000_000.0  # feedback cost_usd
MAX_MODEL_LABELS = 200  # distinct selected_model label values; any other is "other"
MAX_LABEL_CHARS = 96  # a longer model name is counted as "other"
ECHO_CHARS = 64  # the most of a caller's value an error message or log line repeats


def shown(value: object, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` for an error message or a log line, cut to ``limit`` characters with the
    full length noted, so a 500 KB value is never echoed back or logged."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} chars)" if isinstance(value, str) else ""
    return f"{text[:limit]}...{size}"


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` as it is when short, else cut to ``limit`` characters with its length noted."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def confined_path(folder: Path, name: object) -> Path:
    """``folder / name`` for a file a bundle manifest names, refused (ValueError naming it) unless
    it is a relative path that stays inside ``folder`` once symbolic links are followed."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"manifest names a file by {shown(name)}, not by a relative path")
    rel = Path(name)
    root = folder.resolve()
    target = (root / rel).resolve()
    if rel.is_absolute() or ".." in rel.parts or not target.is_relative_to(root):
        raise ValueError(f"manifest path {shown(name)} leaves the bundle folder")
    return target
