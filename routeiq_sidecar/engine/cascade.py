"""The cascade's rule: answer from the static tier unless its choice is a near tie.

A decision's margin is the utility gap between its best two eligible candidates (the decision
rule's own scale, so the setting means the same under every profile); a Classify call's is the
gap between its two likeliest categories. Under ``cascade_margin`` the MiniLM tier answers.
"""

from __future__ import annotations

import math
import threading

from routeiq_sidecar.types import Score, Signals


def decision_margin(ranking: list[Score]) -> float:
    """Utility of the best eligible candidate minus the second's; inf with fewer than two."""
    utilities = sorted((s.utility for s in ranking if s.eligible), reverse=True)
    return utilities[0] - utilities[1] if len(utilities) >= 2 else math.inf


def category_margin(signals: Signals) -> float:
    probs = sorted(signals.category_scores.values(), reverse=True)
    return probs[0] - probs[1] if len(probs) >= 2 else math.inf


class EscalationShare:
    """Share of this process's cascade answers that ran MiniLM (shown in every answer)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.answers = 0
        self.escalated = 0

    def note(self, escalated: bool) -> float:
        with self._lock:
            self.answers += 1
            self.escalated += int(escalated)
            return self.escalated / self.answers
