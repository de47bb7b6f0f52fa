"""Session stickiness: later turns of a session stay on the deployment that served it.

A request with a ``session_id`` looks up the deployment of the session (per model group) in the
state store. When that deployment is among this request's candidates and eligible, it is served
(first in the ranking, ``sticky=true``) even if another now has a higher utility: switching
models mid-conversation costs prompt-cache hits and changes the voice of the answers. When it is
missing or ineligible (a capability, context length or price limit), stickiness breaks and the
best candidate serves and becomes the session's deployment. Every turn refreshes the TTL.
"""

from __future__ import annotations

from dataclasses import dataclass

from routeiq_sidecar.types import RouteInput, Score


def session_key(inp: RouteInput) -> str | None:
    """The store key of a session; the model group keeps one session's groups apart."""
    if not inp.session_id:
        return None
    return f"{inp.model_group or '-'}:{inp.session_id}"


@dataclass(frozen=True)
class Kept:
    ranking: list[Score]
    sticky: bool
    result: str  # hit, new (no deployment yet), broken (gone or ineligible)
    note: str = ""  # half a sentence for the decision's reason


def keep(ranking: list[Score], previous: str | None) -> Kept:
    """Serve the session's previous deployment when it is still eligible."""
    if previous is None:
        return Kept(ranking, False, "new")
    prev = next((s for s in ranking if s.candidate_id == previous), None)
    if prev is None:
        return Kept(ranking, False, "broken", f"session left {previous} (no longer a candidate)")
    if not prev.eligible:
        return Kept(ranking, False, "broken", f"session left {previous} ({prev.ineligible_reason})")
    best = ranking[0]
    if prev is best:
        return Kept(ranking, True, "hit", "kept for the session (sticky)")
    return Kept(
        [prev, *(s for s in ranking if s is not prev)],
        True,
        "hit",
        f"kept for the session (sticky) over {best.candidate_id} (utility {best.utility:.3f})",
    )
