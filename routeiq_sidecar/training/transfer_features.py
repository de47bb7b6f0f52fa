"""Structural prompt features meant to transfer across tasks (issue 13, section 3), for the
eval-only ``structural`` baseline of the leave-one-file-out table (training/transfer.py).

Counts, not embeddings: length, numbers, equations and operators, code and maths markers,
sub-questions, constraint words, list and step structure, question words. Each count is
``log1p``'d so a long prompt does not dominate; the ridge in training/transfer_baselines.py
standardises them on its training files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:[.,]\d+)?")
_EQUATION = re.compile(r"[=<>\u2264\u2265]|\\frac|\\sqrt|\^|\$[^$]+\$")
_OPERATOR = re.compile(r"(?<=[\w)\]])\s*[-+*/\u00d7\u00f7]\s*(?=[\w(\[])")
_CODE = re.compile(r"```|\bdef |\breturn\b|\bfunction\b|\bclass |[{};]\s*$|\bimport |=>|::",
                   re.MULTILINE)
_MATHS = re.compile(r"\\[a-zA-Z]+|\b(?:solve|equation|integral|derivative|probability|prove"
                    r"|compute|calculate|sum|product|prime|divisible|matrix)\b", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[A-Da-d][.)]|step \d+)\s", re.MULTILINE
                        | re.IGNORECASE)
_QUESTION_WORD = re.compile(r"\b(?:what|how|why|which|who|whom|when|where|explain|describe"
                            r"|compare|write|find|determine)\b", re.IGNORECASE)
_CONSTRAINT = re.compile(r"\b(?:must|should|only|exactly|at least|at most|without|do not"
                         r"|don't|each|every|all)\b", re.IGNORECASE)
_ANSWER_CHOICE = re.compile(r"^\s*\(?[A-Ea-e][.):]\s", re.MULTILINE)

FEATURES: tuple[str, ...] = (
    "log_tokens", "numbers", "equations", "operators", "code_markers", "maths_markers",
    "sub_questions", "constraints", "list_items", "answer_choices", "question_words",
    "lines", "non_ascii_share",
)


def prompt_features(text: str, tokens: float) -> np.ndarray:
    """``(len(FEATURES),)`` float64 for one prompt (``tokens``: the estimated prompt tokens)."""
    counts = [
        len(_NUMBER.findall(text)), len(_EQUATION.findall(text)), len(_OPERATOR.findall(text)),
        len(_CODE.findall(text)), len(_MATHS.findall(text)), text.count("?"),
        len(_CONSTRAINT.findall(text)), len(_LIST_ITEM.findall(text)),
        len(_ANSWER_CHOICE.findall(text)), len(_QUESTION_WORD.findall(text)),
        text.count("\n") + 1,
    ]
    non_ascii = sum(1 for ch in text if ord(ch) > 127) / max(1, len(text))
    return np.asarray([math.log(max(1.0, tokens)), *(math.log1p(c) for c in counts),
                       non_ascii], np.float64)


def feature_table(texts: Sequence[str], tokens: np.ndarray) -> np.ndarray:
    """``(n, len(FEATURES))`` for prompts and their estimated tokens."""
    if not texts:
        return np.zeros((0, len(FEATURES)))
    return np.stack([prompt_features(t, float(n)) for t, n in zip(texts, tokens, strict=True)])
