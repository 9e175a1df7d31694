"""Feed wire types: ingest answers, leases, results pages, figures; Arrow IPC helpers.

Bulk records and results travel as Arrow IPC streams; the media types and headers that go
with them are named here so the server, the SDK and the feed worker agree.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from sapwood.schemas.base import WireModel

ARROW_STREAM = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
CSV = "text/csv"
JSON_LINES = "application/x-ndjson"

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Sapwood-Replayed"
LEASE_HEADER = "Sapwood-Lease-Id"
MODEL_HEADER = "Sapwood-Model"
FEATURES_HEADER = "Sapwood-Features"
FIRST_SEQUENCE_HEADER = "Sapwood-First-Sequence"
ATTEMPT_HEADER = "Sapwood-Attempt"
MODEL_VERSION_HEADER = "Sapwood-Model-Version"
FILL_MISSING_PARAM = "fillMissing"

MAX_BATCH_KEY = 100


class IngestResponse(WireModel):
    """What a post of records got: how many, and their sequence numbers (inclusive).

    ``replayed``: the batch id was already pushed with the same body, so nothing was
    stored and the numbers are the first post's. ``filled``: the absent columns that took
    the schema's value (only when the post or the feed opted in to filling).
    ``message`` says either in words."""

    accepted: int
    first_sequence: int
    last_sequence: int
    batch_id: str | None = None
    replayed: bool = False
    filled: list[str] = Field(default_factory=list)
    message: str | None = None


class FeedResult(WireModel):
    """One scored record. ``prediction`` and ``score`` are null when the model gave no
    finite score for it (NaN or infinite output): unavailable, not a class."""

    sequence: int
    prediction: int | None
    score: float | None
    probabilities: list[float | None] | None = None
    label: float | None = None
    model_version: str
    ingested_at: datetime
    scored_at: datetime


class FeedResultPage(WireModel):
    items: list[FeedResult]
    continue_: str | None = Field(default=None, alias="continue")


class FeedFigures(WireModel):
    """A feed's figures over the recent window (rates per second, latencies in seconds)."""

    records: int
    scored: int
    backlog: int
    ingest_rate: float
    scoring_rate: float
    latency_p50_s: float | None = None
    latency_p99_s: float | None = None
    flagged_share: float | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    window_s: float


class LeasedBatch(WireModel):
    """A batch a worker holds: its records (Arrow IPC), where they start, what scores them."""

    lease_id: str
    model: str
    features: list[str]
    first_sequence: int
    attempt: int
    records: bytes


class AckResponse(WireModel):
    stored: bool
    first_sequence: int
    count: int
