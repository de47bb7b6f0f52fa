"""The state interface the engine talks to; memory (default) and Redis implement it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class FeedbackResult:
    found: bool
    duplicate: bool


class Store(Protocol):
    async def record_decision(self, decision_id: str, record: dict[str, Any]) -> None: ...

    async def record_feedback(
        self, decision_id: str, outcome: dict[str, Any]
    ) -> FeedbackResult: ...

    async def close(self) -> None: ...
