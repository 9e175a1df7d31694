"""Notification channels, rules and the delivery log on the wire."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from sapwood.schemas.base import WireModel
from sapwood.specs.base import Duration, Name, duration_schema, friendly
from sapwood.specs.quantity import format_duration
from sapwood.specs.selectors import SELECTOR_PATTERN, parse_selector


class ChannelType(StrEnum):
    SLACK = "slack"
    WEBHOOK = "webhook"


class NotificationEvent(StrEnum):
    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    SERVICE_UNHEALTHY = "service.unhealthy"
    WORKSPACE_PAUSED = "workspace.paused"
    PREEMPTED = "preempted"
    IDLE_PAUSED = "idle-paused"
    UNDERUTILISED = "underutilised"


DEFAULT_THRESHOLD_PERCENT = 20.0
DEFAULT_UNDERUSE_DURATION = timedelta(minutes=30)
MIN_UNDERUSE_DURATION = timedelta(minutes=1)
MAX_UNDERUSE_DURATION = timedelta(days=7)
# A scheme ('http', 'https', any case), '://', then a host: what check_http_url accepts.
HTTP_URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^/]"


def check_http_url(value: str) -> str:
    """An http(s) URL with a host; ValueError saying so otherwise."""
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.split("/")[0]:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


HttpUrl = Annotated[
    str,
    StringConstraints(max_length=2000, pattern=HTTP_URL_PATTERN),
    friendly(check_http_url),
    Field(json_schema_extra={"format": "uri"}),
]
UnderuseDuration = Annotated[
    Duration, duration_schema(MIN_UNDERUSE_DURATION, MAX_UNDERUSE_DURATION)
]


class ChannelRequest(WireModel):
    type: ChannelType
    url: HttpUrl = Field(description="http(s) URL the notifications are posted to")
    secret: str | None = Field(
        default=None,
        max_length=500,
        description="webhook HMAC-SHA256 key; write-only, never returned",
    )


class Channel(WireModel):
    team: str
    name: str
    type: ChannelType
    url: str
    has_secret: bool = False
    created_at: datetime
    updated_at: datetime


class RuleRequest(WireModel):
    channel: Name = Field(description="a channel of the same team")
    events: list[NotificationEvent] = Field(min_length=1)
    selector: str | None = Field(
        default=None,
        max_length=1000,
        description="label selector, e.g. app=x,tier!=dev",
        json_schema_extra={"pattern": SELECTOR_PATTERN},
    )
    threshold: float = Field(
        default=DEFAULT_THRESHOLD_PERCENT,
        gt=0,
        le=100,
        description="underutilised: percent of the requested CPU or GPU used at most",
    )
    duration: UnderuseDuration = Field(
        default=DEFAULT_UNDERUSE_DURATION,
        description="underutilised: for how long the use stays under the threshold",
        # pydantic writes a timedelta default as ISO 8601 ("PT30M"), which this field
        # does not take: the default is shown as the server writes it.
        json_schema_extra={"default": format_duration(DEFAULT_UNDERUSE_DURATION)},
    )

    @field_validator("duration")
    @classmethod
    def _sensible_duration(cls, value: timedelta) -> timedelta:
        if not MIN_UNDERUSE_DURATION <= value <= MAX_UNDERUSE_DURATION:
            raise ValueError("must be between 1m and 7d")
        return value

    @field_validator("selector")
    @classmethod
    def _valid_selector(cls, value: str | None) -> str | None:
        if value is not None:
            parse_selector(value)
            return value.strip() or None
        return value


class Rule(WireModel):
    team: str
    name: str
    channel: str
    events: list[NotificationEvent]
    selector: str | None = None
    threshold: float = DEFAULT_THRESHOLD_PERCENT
    duration: Duration = DEFAULT_UNDERUSE_DURATION
    created_at: datetime
    updated_at: datetime


class Delivery(WireModel):
    """One attempt to post one notification to one channel."""

    id: int
    time: datetime
    team: str
    channel: str
    event: str
    kind: str = ""
    name: str = ""
    reason: str = ""
    attempt: int
    status_code: int | None = None
    ok: bool
    error: str | None = None
