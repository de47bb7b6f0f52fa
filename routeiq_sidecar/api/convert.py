"""Proto messages <-> engine types, shared by both transports (REST bodies are proto JSON).

REST's hot route skips the proto messages: ``route_request_json`` reads a body straight into a
``RouteInput`` and ``route_json`` prints a ``Decision`` straight into proto JSON's dict, each
the same as the message path (``route_in(parse_json(...))``, ``to_json_dict(route_out(...))``)
and checked against it on generated requests and decisions (tests/unit/api/test_convert_json.py).
Anything the fast reader does not take unchanged (see ``proto_json.plain``) goes the message way.
"""

from __future__ import annotations

import json
import re
from array import array
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from routeiq_sidecar._proto.routeiq.v1 import router_pb2 as pb
from routeiq_sidecar.api import proto_json
from routeiq_sidecar.errors import invalid
from routeiq_sidecar.types import (
    CandidateSpec,
    ChatMessage,
    Classified,
    Decision,
    RouteInput,
    Signals,
    Timings,
)


def messages_in(msgs: Any) -> tuple[ChatMessage, ...]:
    return tuple(ChatMessage(m.role, m.content, m.name) for m in msgs)


def route_in(req: pb.RouteRequest, request_id: str) -> RouteInput:
    return RouteInput(
        request_id=req.request_id or request_id,
        model_group=req.model_group,
        messages=messages_in(req.messages),
        prompt=req.prompt,
        candidates=tuple(
            CandidateSpec(
                id=c.id,
                model=c.model,
                input_cost_per_mtok=c.input_cost_per_mtok,
                output_cost_per_mtok=c.output_cost_per_mtok,
                max_input_tokens=c.max_input_tokens,
                capabilities=tuple(c.capabilities) if c.capabilities else (),
                quality_prior=c.quality_prior if c.HasField("quality_prior") else None,
                labels=dict(c.labels) if c.labels else {},  # empty: no copy (most requests)
                price_known=c.HasField("input_cost_per_mtok") or c.HasField("output_cost_per_mtok"),
            )
            for c in req.candidates
        ),
        profile=req.profile,
        strategy=req.strategy,
        session_id=req.session_id,
        user_id=req.user_id,
        required_capabilities=(
            tuple(req.required_capabilities) if req.required_capabilities else ()
        ),
        max_cost_per_mtok=req.max_cost_per_mtok if req.HasField("max_cost_per_mtok") else None,
        quality_cost_tradeoff=(
            req.quality_cost_tradeoff if req.HasField("quality_cost_tradeoff") else None
        ),
        deadline_ms=req.deadline_ms,
        metadata=dict(req.metadata) if req.metadata else {},
    )


def signals_out(s: Signals) -> pb.Signals:
    return pb.Signals(
        category=s.category,
        complexity=s.complexity,
        confidence=s.confidence,
        complexity_score=s.complexity_score,
        estimated_prompt_tokens=s.estimated_prompt_tokens,
        category_scores=s.category_scores,
    )


def timings_out(t: Timings) -> pb.Timings:
    return pb.Timings(
        tokenize_us=t.tokenize_us,
        embed_us=t.embed_us,
        classify_us=t.classify_us,
        queue_us=t.queue_us,
        total_us=t.total_us,
        batch_size=t.batch_size,
        cache_hit=t.cache_hit,
        encoder=t.encoder,
        escalated=t.escalated,
        escalated_share=t.escalated_share,
    )


def route_out(d: Decision) -> pb.RouteResponse:
    return pb.RouteResponse(
        decision_id=d.decision_id,
        selected_id=d.selected.id,
        selected_model=d.selected.model,
        ranking=[
            pb.Score(
                candidate_id=r.candidate_id,
                model=r.model,
                predicted_quality=r.predicted_quality,
                estimated_cost=r.estimated_cost,
                utility=r.utility,
                eligible=r.eligible,
                ineligible_reason=r.ineligible_reason,
                quality_source=r.quality_source,
            )
            for r in d.ranking
        ],
        strategy=d.strategy,
        experiment=d.experiment,
        arm=d.arm,
        signals=signals_out(d.signals),
        reason=d.reason,
        degraded=d.degraded,
        sticky=d.sticky,
        timings=timings_out(d.timings),
        bundle_version=d.bundle_version,
        request_id=d.request_id,
        profile=d.profile,
        **{"lambda": d.lam},
        shadow_strategy=d.shadow_strategy,
        shadow_selected_id=d.shadow_selected_id,
    )


def classify_out(c: Classified, request_id: str) -> pb.ClassifyResponse:
    return pb.ClassifyResponse(
        signals=signals_out(c.signals),
        timings=timings_out(c.timings),
        bundle_version=c.bundle_version,
        request_id=request_id,
    )


def feedback_outcome(req: pb.FeedbackRequest) -> dict[str, Any]:
    return {
        "score": req.score if req.HasField("score") else None,
        "success": req.success if req.HasField("success") else None,
        "latency_ms": req.latency_ms,
        "cost_usd": req.cost_usd,
        "error": req.error,
    }


def parse_json(body: bytes, message: Message) -> Message:
    """Proto JSON into ``message``; every error names the field (unknown fields are refused)."""
    return parse_object(load_object(body), message)


def load_object(body: bytes) -> dict[str, Any]:
    """The body's JSON object; a clear error when it is not UTF-8, not JSON or not an object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid("body", f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise invalid("body", "empty body: send a JSON object")
    try:
        obj = json.loads(text)
    except RecursionError:
        raise invalid("body", "JSON nested too deeply") from None
    except ValueError as exc:
        raise invalid("body", f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise invalid("body", f"must be a JSON object, not {type(obj).__name__}")
    return obj


def parse_object(obj: dict[str, Any], message: Message) -> Message:
    """A JSON object into ``message``, as ``ParseDict`` reads it (errors name the field)."""
    fast = proto_json.parse_plain(obj, type(message))
    if fast is not None:  # the common shape, read as ParseDict reads it, in C
        message.MergeFrom(fast)
        return message
    try:
        json_format.ParseDict(obj, message, ignore_unknown_fields=False, max_recursion_depth=32)
    except json_format.ParseError as exc:
        field, reason = explain_parse_error(str(exc), message.DESCRIPTOR.name)
        raise invalid(field, reason) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid("body", f"cannot read the request ({exc})") from None
    return message


_UNKNOWN = re.compile(r'has no field named "([^"]+)" at "([^"]+)"')
_AT = re.compile(r" at [A-Za-z]+\.([\w.\[\]]+?)\.*$")
_FAILED = re.compile(r"Failed to parse (\w+) field: ")


def explain_parse_error(msg: str, root: str) -> tuple[str, str]:
    """protobuf's ParseError text -> (field path, short reason)."""
    msg = msg.strip()
    m = _UNKNOWN.search(msg)
    if m:
        where = m.group(2).removeprefix(root).lstrip(".")
        path = f"{where}.{m.group(1)}" if where else m.group(1)
        return path, f"unknown field {m.group(1)!r}"
    chain = _FAILED.findall(msg)
    reason = _FAILED.sub("", msg.split("\n", 1)[0]).rstrip(".")
    at = _AT.search(reason)
    if at:
        path = at.group(1)
        reason = reason[: at.start()]
    else:
        path = ".".join(chain) or "body"
    return path, reason or "invalid value"


# --- REST's hot route without the messages
# Lone surrogates (\uD800-\uDFFF escapes) are refused by the message constructor, which the
# message path words as an error; such bodies take that path.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_ROUTE = pb.RouteRequest.DESCRIPTOR
# the fields each fast reader below sets (tests compare them with the messages' fields)
ROUTE_FIELDS = frozenset(
    ("request_id", "model_group", "messages", "prompt", "candidates", "profile", "strategy",
     "session_id", "user_id", "required_capabilities", "max_cost_per_mtok",
     "quality_cost_tradeoff", "deadline_ms", "metadata"))  # fmt: skip
CANDIDATE_FIELDS = frozenset(
    ("id", "model", "input_cost_per_mtok", "output_cost_per_mtok", "max_input_tokens",
     "capabilities", "quality_prior", "labels"))  # fmt: skip
MESSAGE_FIELDS = frozenset(("role", "content", "name"))


def route_request_json(body: bytes, request_id: str) -> RouteInput:
    """``route_in(parse_json(body, RouteRequest()), request_id)`` without the message when the
    body is in the plain shape (``proto_json.plain``); the same input, the same errors."""
    obj = load_object(body)
    if _SURROGATE_ESCAPE.search(body) is None and proto_json.plain(obj, _ROUTE):
        return _route_in_plain(obj, request_id)
    return route_in(parse_object(obj, pb.RouteRequest()), request_id)


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _candidate_plain(c: dict[str, Any]) -> CandidateSpec:
    g = c.get
    caps, labels = g("capabilities"), g("labels")
    return CandidateSpec(
        id=g("id", ""),
        model=g("model", ""),
        input_cost_per_mtok=float(g("input_cost_per_mtok", 0.0)),
        output_cost_per_mtok=float(g("output_cost_per_mtok", 0.0)),
        max_input_tokens=g("max_input_tokens", 0),
        capabilities=tuple(caps) if caps else (),
        quality_prior=_opt_float(g("quality_prior")),
        labels=dict(labels) if labels else {},
        price_known="input_cost_per_mtok" in c or "output_cost_per_mtok" in c,
    )


def _route_in_plain(obj: dict[str, Any], request_id: str) -> RouteInput:
    g = obj.get
    caps, metadata = g("required_capabilities"), g("metadata")
    return RouteInput(
        request_id=g("request_id") or request_id,
        model_group=g("model_group", ""),
        messages=tuple(
            ChatMessage(m.get("role", ""), m.get("content", ""), m.get("name", ""))
            for m in g("messages", ())
        ),
        prompt=g("prompt", ""),
        candidates=tuple(_candidate_plain(c) for c in g("candidates", ())),
        profile=g("profile", ""),
        strategy=g("strategy", ""),
        session_id=g("session_id", ""),
        user_id=g("user_id", ""),
        required_capabilities=tuple(caps) if caps else (),
        max_cost_per_mtok=_opt_float(g("max_cost_per_mtok")),
        quality_cost_tradeoff=_opt_float(g("quality_cost_tradeoff")),
        deadline_ms=g("deadline_ms", 0),
        metadata=dict(metadata) if metadata else {},
    )


def _double(v: float) -> Any:
    return proto_json.float_out(float(v))


def _float32(v: float) -> Any:
    # as a float field stores it: rounded to float32, inf beyond its range (no warning)
    return proto_json.float32_out(array("f", (v,))[0])


def route_json(d: Decision) -> dict[str, Any]:
    """``to_json_dict(route_out(d))``, built straight from the decision (same keys, values)."""
    s, t = d.signals, d.timings
    return {
        "decision_id": d.decision_id,
        "selected_id": d.selected.id,
        "selected_model": d.selected.model,
        "ranking": [
            {
                "candidate_id": r.candidate_id,
                "model": r.model,
                "predicted_quality": _double(r.predicted_quality),
                "estimated_cost": _double(r.estimated_cost),
                "utility": _double(r.utility),
                "eligible": bool(r.eligible),
                "ineligible_reason": r.ineligible_reason,
                "quality_source": r.quality_source,
            }
            for r in d.ranking
        ],
        "strategy": d.strategy,
        "experiment": d.experiment,
        "arm": d.arm,
        "signals": {
            "category": s.category,
            "complexity": s.complexity,
            "confidence": _double(s.confidence),
            "complexity_score": _double(s.complexity_score),
            "estimated_prompt_tokens": int(s.estimated_prompt_tokens),
            "category_scores": {k: _double(v) for k, v in s.category_scores.items()},
        },
        "reason": d.reason,
        "degraded": bool(d.degraded),
        "sticky": bool(d.sticky),
        "timings": {
            "tokenize_us": int(t.tokenize_us),
            "embed_us": int(t.embed_us),
            "classify_us": int(t.classify_us),
            "queue_us": int(t.queue_us),
            "total_us": int(t.total_us),
            "batch_size": int(t.batch_size),
            "cache_hit": bool(t.cache_hit),
            "encoder": t.encoder,
            "escalated": bool(t.escalated),
            "escalated_share": _float32(t.escalated_share),
        },
        "bundle_version": d.bundle_version,
        "request_id": d.request_id,
        "profile": d.profile,
        "lambda": _double(d.lam),
        "shadow_strategy": d.shadow_strategy,
        "shadow_selected_id": d.shadow_selected_id,
    }


def to_json_dict(message: Message) -> dict[str, Any]:
    """``MessageToDict`` with proto field names and fields without presence printed."""
    return proto_json.to_dict(message)
