"""Structural features that join the embedding in the parametric heads (same code at train and
serve time): prompt length, code, math, tool messages, turn count; all in 0..1.

A head stores the names of the features it was trained with; features that were constant in
its training data (e.g. turn count on single-prompt files) are left out, since their weights
would be untrained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from routeiq_sidecar.text import SelectedText

FEATURE_NAMES: tuple[str, ...] = ("log_tokens", "has_code", "has_math", "has_tools", "turns")
LOG_TOKENS_CAP = 8192
TURNS_CAP = 20


def structural_features(sel: SelectedText) -> np.ndarray:
    tokens = max(0, sel.estimated_prompt_tokens)
    return np.asarray(
        [
            min(1.0, math.log1p(tokens) / math.log1p(LOG_TOKENS_CAP)),
            float(sel.has_code),
            float(sel.has_math),
            float(sel.has_tool_messages),
            min(sel.turn_count, TURNS_CAP) / TURNS_CAP,
        ],
        dtype=np.float32,
    )


def feature_matrix(sels: Sequence[SelectedText]) -> np.ndarray:
    """``(n, len(FEATURE_NAMES))`` float32."""
    if not sels:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32)
    return np.stack([structural_features(s) for s in sels])


def feature_columns(names: Sequence[str]) -> list[int]:
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown structural features {unknown}; known: {FEATURE_NAMES}")
    return [FEATURE_NAMES.index(n) for n in names]


def varying_features(features: np.ndarray) -> list[str]:
    """Names of the features that vary in ``features`` (n, all features)."""
    if features.shape[0] == 0:
        return []
    spread = features.max(axis=0) - features.min(axis=0)
    return [n for n, s in zip(FEATURE_NAMES, spread, strict=True) if s > 0]
