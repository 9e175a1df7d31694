"""Notification channels, rules and the delivery log on the wire."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field, field_validator

from sapwood.schemas.base import WireModel
from sapwood.specs.base import Duration
from sapwood.specs.selectors import parse_selector


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


class ChannelRequest(WireModel):
    type: ChannelType
    url: str = Field(max_length=2000, description="http(s) URL the notifications are posted to")
    secret: str | None = Field(
        default=None,
        max_length=500,
        description="webhook HMAC-SHA256 key; write-only, never returned",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest.split("/")[0]:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value


class Channel(WireModel):
    team: str
    name: str
    type: ChannelType
    url: str
    has_secret: bool = False
    created_at: datetime
    updated_at: datetime


class RuleRequest(WireModel):
    channel: str = Field(min_length=1, max_length=63)
    events: list[NotificationEvent] = Field(min_length=1)
    selector: str | None = Field(
        default=None, max_length=1000, description="label selector, e.g. app=x,tier!=dev"
    )
    threshold: float = Field(
        default=DEFAULT_THRESHOLD_PERCENT,
        gt=0,
        le=100,
        description="underutilised: percent of the requested CPU or GPU used at most",
    )
    duration: Duration = Field(
        default=DEFAULT_UNDERUSE_DURATION,
        description="underutilised: for how long the use stays under the threshold",
    )

    @field_validator("duration")
    @classmethod
    def _sensible_duration(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=7):
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
