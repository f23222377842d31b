"""AI gateway domain: what a request asks and gets back, the rate-limit window a
response reports, the usage ledger's rows and reports, the rules a request is
checked against, the domain errors and the domain events (mapped to
aether.ai.v1 events by servers.ai.mapping.to_event). No I/O, no protobuf.

The prompt and provider shapes (Message, Prompt, Usage) live beside the
provider adapters in providers/base.py, which every adapter speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from servers.ai.catalog import ModelSpec
from servers.ai.providers.base import Message, Usage
from servers.platform.errors import AetherError, ErrorReason, FieldViolation, InvalidArgument, RateLimited
from servers.platform.paging import Page
from servers.platform.windows import TimeWindow

CHAT, STREAM_CHAT, EMBEDDINGS = "chat", "stream_chat", "embeddings"  # ledger operations
NO_USAGE = Usage(0, 0)


# --- requests and answers ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChatInput:
    model: str
    message: str
    context: Sequence[Message] = ()
    temperature: float | None = None
    max_tokens: int = 0
    skip_cache: bool = False
    request_id: str = ""
    deadline: float = 0.0  # time.monotonic() by which the answer is due


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    model: str
    provider: str
    usage: Usage
    latency_ms: int
    request_id: str
    cached: bool
    finish_reason: str


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    request_id: str


@dataclass(frozen=True, slots=True)
class EmbeddingsInput:
    model: str
    texts: Sequence[str]
    single: bool  # one `text` rather than a `texts` batch
    deadline: float = 0.0


@dataclass(frozen=True, slots=True)
class EmbeddingsResult:
    vectors: list[list[float]]
    dimensions: int
    model: str
    tokens: int


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A complete answer, as the response cache keeps it."""

    text: str
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    finish_reason: str


# --- models ----------------------------------------------------------------------------
AVAILABLE, UNAVAILABLE, RATE_LIMITED = "available", "unavailable", "rate_limited"


@dataclass(frozen=True, slots=True)
class ModelView:
    spec: ModelSpec
    status: str  # AVAILABLE | UNAVAILABLE | RATE_LIMITED


@dataclass(frozen=True, slots=True)
class ModelListing:
    """One page of the catalogue and the caller's current default model."""

    page: Page[ModelView]
    current_model: str


@dataclass(frozen=True, slots=True)
class ModelSwitch:
    current: str
    previous: str

    @property
    def unchanged(self) -> bool:
        return self.current == self.previous


# --- limits ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The caller's requests-per-minute window for a model after admission:
    what the transport reports as X-RateLimit-Limit/Remaining/Reset."""

    limit: int
    remaining: int
    reset_seconds: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """Budget held for a request until it settles (`bucket` names the period's budget)."""

    bucket: str
    tokens: int
    micro_usd: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a finished request really used: its budget reservation is released
    and `tokens` / `cost_usd` charged; its rate-limit window (of the requested
    model) is corrected by `extra_tokens` beyond the admission's estimate."""

    user_id: str
    model: str
    reservation: Reservation | None
    tokens: int
    cost_usd: float
    extra_tokens: int


class RateLimitExceeded(RateLimited):
    """RESOURCE_EXHAUSTED, reason RATE_LIMIT_EXCEEDED; `rate_limit` is the window
    the refusal reports (None when the model has no requests-per-minute limit)."""

    def __init__(self, message: str, retry_after_seconds: float, rate_limit: RateLimitInfo | None):
        super().__init__(message, retry_after_seconds)
        self.rate_limit = rate_limit


class BudgetExceeded(RateLimited):
    """RESOURCE_EXHAUSTED (a RateLimited for the status mapping), reason BUDGET_EXCEEDED."""

    def __init__(self, message: str, retry_after_seconds: float):
        AetherError.__init__(
            self, message, ErrorReason.BUDGET_EXCEEDED, retry_after_seconds=retry_after_seconds
        )


# --- the usage ledger ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One row of ai.usage: a finished request, however it ended."""

    request_id: str
    user_id: str
    operation: str  # CHAT | STREAM_CHAT | EMBEDDINGS
    model: str
    provider: str
    # When the request ended (the row's created_at): rows are written in batches
    # a little later, and a usage report up to "now" must include them.
    finished_at: datetime
    fallback_from: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    cached: bool = False
    streamed: bool = False
    cancelled: bool = False
    success: bool = True
    error_code: str = ""


@dataclass
class ModelTotals:
    requests: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class UsageReport:
    """Totals over `window`, overall and per model."""

    window: TimeWindow
    requests: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    by_model: dict[str, ModelTotals] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsageQuery:
    user_id: str  # "" = the caller (or everyone, for an admin)
    start: datetime | None
    end: datetime | None
    model: str = ""


# --- rules -----------------------------------------------------------------------------
def cacheable(temperature: float | None) -> bool:
    """Only repeatable requests (temperature 0) are answered from the cache."""
    return temperature == 0


def check_fits(spec: ModelSpec, estimated_input: int, max_tokens: int) -> None:
    """INVALID_ARGUMENT unless `max_tokens` is within the model's output limit and
    the conversation plus `max_tokens` within its context window."""
    if max_tokens > spec.max_tokens:
        violation = FieldViolation(
            "options.maxTokens", f"{spec.id} generates at most {spec.max_tokens} tokens"
        )
    elif estimated_input + max_tokens > spec.context_window:
        violation = FieldViolation(
            "context",
            f"the conversation is about {estimated_input} tokens; with maxTokens {max_tokens} "
            f"it exceeds {spec.id}'s context window of {spec.context_window} tokens",
        )
    else:
        return
    raise InvalidArgument(violation.description, [violation])


def check_capability(spec: ModelSpec, capability: str, field_name: str = "model") -> None:
    if not spec.can(capability):
        raise InvalidArgument(
            f"model {spec.id!r} cannot do {capability}",
            [FieldViolation(field_name, f"{spec.id} lacks the {capability!r} capability")],
        )


# --- domain events (servers.ai.mapping.to_event maps them to aether.ai.v1) -------------
@dataclass(frozen=True, slots=True)
class RequestReceived:
    """ "ai.request.received": a request passed its checks and limits."""

    request_id: str
    user_id: str
    operation: str
    model: str
    input_chars: int
    context_messages: int = 0
    texts: int = 0  # embeddings batches: how many texts (0 for a single text)


@dataclass(frozen=True, slots=True)
class ResponseGenerated:
    """ "ai.response.generated": an accepted request ended and was accounted
    (its ledger row, however it ended)."""

    entry: LedgerEntry
    error_message: str = ""


AiEvent = RequestReceived | ResponseGenerated
