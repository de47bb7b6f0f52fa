"""Plain data the engine works on; transports convert to and from these."""

from __future__ import annotations

from dataclasses import dataclass, field

from routeiq_sidecar.model_names import name_price_per_mtok

CAPABILITIES = ("tools", "vision", "json", "reasoning")
PROFILES = ("auto", "eco", "premium", "free", "reasoning")
TIERS = ("simple", "medium", "complex")
UNKNOWN_PRICE_PER_MTOK = 10.0
"""Blended $/Mtok assumed for a candidate sent without a price whose name states no size or tier
(model_names.py): an expensive model's, so an unpriced model is never preferred for looking
free."""


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str
    name: str = ""


@dataclass(frozen=True)
class CandidateSpec:
    id: str
    model: str
    input_cost_per_mtok: float = 0.0
    output_cost_per_mtok: float = 0.0
    max_input_tokens: int = 0
    capabilities: tuple[str, ...] = ()
    quality_prior: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    price_known: bool = True
    """False when the caller gave neither price: "price unknown", never "free"."""

    @property
    def blended_cost_per_mtok(self) -> float:
        """Price of a million tokens at a 3:1 input:output mix (the usual blend)."""
        return (3.0 * self.input_cost_per_mtok + self.output_cost_per_mtok) / 4.0

    @property
    def name_priced(self) -> bool:
        """Sent without a price, and priced from what its name says (model_names.py)."""
        return not self.price_known and name_price_per_mtok(self.model) is not None

    @property
    def effective_price_per_mtok(self) -> float:
        """The blended price the decision rule and the priors use: the sent one; without one,
        the name's estimate, else ``UNKNOWN_PRICE_PER_MTOK``."""
        if self.price_known:
            return self.blended_cost_per_mtok
        est = name_price_per_mtok(self.model)
        return UNKNOWN_PRICE_PER_MTOK if est is None else est

    @property
    def is_free(self) -> bool:
        return (
            self.price_known
            and self.input_cost_per_mtok == 0.0
            and self.output_cost_per_mtok == 0.0
        )


@dataclass(frozen=True)
class RouteInput:
    request_id: str
    model_group: str = ""
    messages: tuple[ChatMessage, ...] = ()
    prompt: str = ""
    candidates: tuple[CandidateSpec, ...] = ()
    profile: str = ""
    strategy: str = ""
    session_id: str = ""
    user_id: str = ""
    required_capabilities: tuple[str, ...] = ()
    max_cost_per_mtok: float | None = None
    quality_cost_tradeoff: float | None = None
    deadline_ms: int = 0
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Timings:
    tokenize_us: int = 0
    embed_us: int = 0
    classify_us: int = 0
    queue_us: int = 0
    total_us: int = 0
    batch_size: int = 0
    cache_hit: bool = False
    encoder: str = ""  # the encoder whose vector answered: minilm or static
    escalated: bool = False  # cascade: the static tier was unsure, MiniLM answered
    escalated_share: float = 0.0  # cascade: share of this process's answers that escalated


@dataclass(frozen=True)
class Signals:
    category: str
    complexity: str
    confidence: float
    complexity_score: float
    estimated_prompt_tokens: int
    category_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    candidate_id: str
    model: str
    predicted_quality: float
    estimated_cost: float
    utility: float
    eligible: bool
    ineligible_reason: str = ""
    quality_source: str = ""


@dataclass
class Decision:
    decision_id: str
    request_id: str
    selected: CandidateSpec
    ranking: list[Score]
    strategy: str
    profile: str
    lam: float
    signals: Signals
    reason: str
    timings: Timings
    bundle_version: str
    degraded: bool = False
    sticky: bool = False
    experiment: str = ""
    arm: str = ""
    shadow_strategy: str = ""
    shadow_selected_id: str = ""


@dataclass(frozen=True)
class Classified:
    signals: Signals
    timings: Timings
    bundle_version: str
