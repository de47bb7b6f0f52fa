# ruff: noqa
# mypy: ignore-errors
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("role", "content", "name")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    name: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("id", "model", "input_cost_per_mtok", "output_cost_per_mtok", "max_input_tokens", "capabilities", "quality_prior", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_COST_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_COST_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    QUALITY_PRIOR_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    input_cost_per_mtok: float
    output_cost_per_mtok: float
    max_input_tokens: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    quality_prior: float
    labels: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., input_cost_per_mtok: _Optional[float] = ..., output_cost_per_mtok: _Optional[float] = ..., max_input_tokens: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ..., quality_prior: _Optional[float] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("request_id", "model_group", "messages", "prompt", "candidates", "profile", "strategy", "session_id", "user_id", "required_capabilities", "max_cost_per_mtok", "quality_cost_tradeoff", "deadline_ms", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    QUALITY_COST_TRADEOFF_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    model_group: str
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    prompt: str
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    profile: str
    strategy: str
    session_id: str
    user_id: str
    required_capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_cost_per_mtok: float
    quality_cost_tradeoff: float
    deadline_ms: int
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, request_id: _Optional[str] = ..., model_group: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., prompt: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., profile: _Optional[str] = ..., strategy: _Optional[str] = ..., session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., required_capabilities: _Optional[_Iterable[str]] = ..., max_cost_per_mtok: _Optional[float] = ..., quality_cost_tradeoff: _Optional[float] = ..., deadline_ms: _Optional[int] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Score(_message.Message):
    __slots__ = ("candidate_id", "model", "predicted_quality", "estimated_cost", "utility", "eligible", "ineligible_reason", "quality_source")
    CANDIDATE_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_QUALITY_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    INELIGIBLE_REASON_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    candidate_id: str
    model: str
    predicted_quality: float
    estimated_cost: float
    utility: float
    eligible: bool
    ineligible_reason: str
    quality_source: str
    def __init__(self, candidate_id: _Optional[str] = ..., model: _Optional[str] = ..., predicted_quality: _Optional[float] = ..., estimated_cost: _Optional[float] = ..., utility: _Optional[float] = ..., eligible: _Optional[bool] = ..., ineligible_reason: _Optional[str] = ..., quality_source: _Optional[str] = ...) -> None: ...

class Signals(_message.Message):
    __slots__ = ("category", "complexity", "confidence", "complexity_score", "estimated_prompt_tokens", "category_scores")
    class CategoryScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_SCORES_FIELD_NUMBER: _ClassVar[int]
    category: str
    complexity: str
    confidence: float
    complexity_score: float
    estimated_prompt_tokens: int
    category_scores: _containers.ScalarMap[str, float]
    def __init__(self, category: _Optional[str] = ..., complexity: _Optional[str] = ..., confidence: _Optional[float] = ..., complexity_score: _Optional[float] = ..., estimated_prompt_tokens: _Optional[int] = ..., category_scores: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("tokenize_us", "embed_us", "classify_us", "queue_us", "total_us", "batch_size", "cache_hit", "encoder", "escalated", "escalated_share")
    TOKENIZE_US_FIELD_NUMBER: _ClassVar[int]
    EMBED_US_FIELD_NUMBER: _ClassVar[int]
    CLASSIFY_US_FIELD_NUMBER: _ClassVar[int]
    QUEUE_US_FIELD_NUMBER: _ClassVar[int]
    TOTAL_US_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_SHARE_FIELD_NUMBER: _ClassVar[int]
    tokenize_us: int
    embed_us: int
    classify_us: int
    queue_us: int
    total_us: int
    batch_size: int
    cache_hit: bool
    encoder: str
    escalated: bool
    escalated_share: float
    def __init__(self, tokenize_us: _Optional[int] = ..., embed_us: _Optional[int] = ..., classify_us: _Optional[int] = ..., queue_us: _Optional[int] = ..., total_us: _Optional[int] = ..., batch_size: _Optional[int] = ..., cache_hit: _Optional[bool] = ..., encoder: _Optional[str] = ..., escalated: _Optional[bool] = ..., escalated_share: _Optional[float] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision_id", "selected_id", "selected_model", "ranking", "strategy", "experiment", "arm", "signals", "reason", "degraded", "sticky", "timings", "bundle_version", "request_id", "profile", "shadow_strategy", "shadow_selected_id")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTED_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    RANKING_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    STICKY_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    LAMBDA_FIELD_NUMBER: _ClassVar[int]
    SHADOW_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SHADOW_SELECTED_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    selected_id: str
    selected_model: str
    ranking: _containers.RepeatedCompositeFieldContainer[Score]
    strategy: str
    experiment: str
    arm: str
    signals: Signals
    reason: str
    degraded: bool
    sticky: bool
    timings: Timings
    bundle_version: str
    request_id: str
    profile: str
    shadow_strategy: str
    shadow_selected_id: str
    def __init__(self, decision_id: _Optional[str] = ..., selected_id: _Optional[str] = ..., selected_model: _Optional[str] = ..., ranking: _Optional[_Iterable[_Union[Score, _Mapping]]] = ..., strategy: _Optional[str] = ..., experiment: _Optional[str] = ..., arm: _Optional[str] = ..., signals: _Optional[_Union[Signals, _Mapping]] = ..., reason: _Optional[str] = ..., degraded: _Optional[bool] = ..., sticky: _Optional[bool] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., bundle_version: _Optional[str] = ..., request_id: _Optional[str] = ..., profile: _Optional[str] = ..., shadow_strategy: _Optional[str] = ..., shadow_selected_id: _Optional[str] = ..., **kwargs) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("decision_id", "score", "success", "latency_ms", "cost_usd", "error", "request_id")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    score: float
    success: bool
    latency_ms: float
    cost_usd: float
    error: str
    request_id: str
    def __init__(self, decision_id: _Optional[str] = ..., score: _Optional[float] = ..., success: _Optional[bool] = ..., latency_ms: _Optional[float] = ..., cost_usd: _Optional[float] = ..., error: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ("accepted", "duplicate", "decision_id")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    duplicate: bool
    decision_id: str
    def __init__(self, accepted: _Optional[bool] = ..., duplicate: _Optional[bool] = ..., decision_id: _Optional[str] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("request_id", "messages", "prompt")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    prompt: str
    def __init__(self, request_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., prompt: _Optional[str] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("signals", "timings", "bundle_version", "request_id")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    signals: Signals
    timings: Timings
    bundle_version: str
    request_id: str
    def __init__(self, signals: _Optional[_Union[Signals, _Mapping]] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., bundle_version: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BundleFile(_message.Message):
    __slots__ = ("path", "sha256", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: str
    size: int
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("name", "arms", "shadow_strategy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    name: str
    arms: _containers.RepeatedCompositeFieldContainer[ExperimentArm]
    shadow_strategy: str
    def __init__(self, name: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[ExperimentArm, _Mapping]]] = ..., shadow_strategy: _Optional[str] = ...) -> None: ...

class ExperimentArm(_message.Message):
    __slots__ = ("name", "strategy", "weight", "decisions", "feedback_count", "mean_feedback")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    name: str
    strategy: str
    weight: float
    decisions: int
    feedback_count: int
    mean_feedback: float
    def __init__(self, name: _Optional[str] = ..., strategy: _Optional[str] = ..., weight: _Optional[float] = ..., decisions: _Optional[int] = ..., feedback_count: _Optional[int] = ..., mean_feedback: _Optional[float] = ...) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("service_version", "bundle_name", "bundle_version", "bundle_created", "bundle_files", "strategies", "default_strategy", "profiles", "experiments", "settings", "encoder", "model_groups", "known_models")
    class SettingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_VERSION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_NAME_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_VERSION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_CREATED_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FILES_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    KNOWN_MODELS_FIELD_NUMBER: _ClassVar[int]
    service_version: str
    bundle_name: str
    bundle_version: str
    bundle_created: str
    bundle_files: _containers.RepeatedCompositeFieldContainer[BundleFile]
    strategies: _containers.RepeatedScalarFieldContainer[str]
    default_strategy: str
    profiles: _containers.RepeatedScalarFieldContainer[str]
    experiments: _containers.RepeatedCompositeFieldContainer[Experiment]
    settings: _containers.ScalarMap[str, str]
    encoder: str
    model_groups: _containers.RepeatedScalarFieldContainer[str]
    known_models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service_version: _Optional[str] = ..., bundle_name: _Optional[str] = ..., bundle_version: _Optional[str] = ..., bundle_created: _Optional[str] = ..., bundle_files: _Optional[_Iterable[_Union[BundleFile, _Mapping]]] = ..., strategies: _Optional[_Iterable[str]] = ..., default_strategy: _Optional[str] = ..., profiles: _Optional[_Iterable[str]] = ..., experiments: _Optional[_Iterable[_Union[Experiment, _Mapping]]] = ..., settings: _Optional[_Mapping[str, str]] = ..., encoder: _Optional[str] = ..., model_groups: _Optional[_Iterable[str]] = ..., known_models: _Optional[_Iterable[str]] = ...) -> None: ...
