"""Proto messages <-> engine types, shared by both transports (REST bodies are proto JSON)."""

from __future__ import annotations

import json
import re
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


def to_json_dict(message: Message) -> dict[str, Any]:
    """``MessageToDict`` with proto field names and fields without presence printed."""
    return proto_json.to_dict(message)
