"""Notification channels, rules and the delivery log on the wire."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from sapwood.schemas.base import WireModel
from sapwood.specs.base import Duration, Name, duration_schema, friendly
from sapwood.specs.quantity import format_duration
from sapwood.specs.selectors import SELECTOR_PATTERN, parse_selector


class ChannelType(StrEnum):
    SLACK = "slack"  # an incoming webhook
    WEBHOOK = "webhook"
    SLACK_APP = "slack-app"  # the Slack app's bot, to one conversation, with buttons
    SLACK_DM = "slack-dm"  # the Slack app's bot, to the object's owner as a direct message


SLACK_APP_TYPES = frozenset({ChannelType.SLACK_APP, ChannelType.SLACK_DM})
"""Channel types posted through the Slack app's bot token: they need no URL."""


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
# A conversation id (C0123ABC; G… private, D… direct) or a channel name (#ml-alerts).
SLACK_CHANNEL_PATTERN = r"^([CGD][A-Z0-9_]{2,40}|#[a-z0-9][a-z0-9._-]{0,78})$"


def check_slack_channel(value: str) -> str:
    if not re.fullmatch(SLACK_CHANNEL_PATTERN, value):
        raise ValueError(
            "must be a Slack conversation id like C0123ABCD, or a channel name like #ml-alerts"
        )
    return value


SlackChannel = Annotated[
    str,
    StringConstraints(max_length=80, pattern=SLACK_CHANNEL_PATTERN),
    friendly(check_slack_channel),
]
UnderuseDuration = Annotated[
    Duration, duration_schema(MIN_UNDERUSE_DURATION, MAX_UNDERUSE_DURATION)
]


class ChannelRequest(WireModel):
    """``url`` for ``webhook`` and ``slack``; ``slackChannel`` for ``slack-app``; neither
    for ``slack-dm`` (it goes to each object's owner). A field another type takes is a 422
    naming it; the OpenAPI document states each type's shape (one of four)."""

    model_config = ConfigDict(extra="forbid")

    type: ChannelType
    url: HttpUrl | None = Field(
        default=None,
        validate_default=True,
        description="http(s) URL the notifications are posted to (webhook, slack)",
    )
    secret: str | None = Field(
        default=None,
        max_length=500,
        description="webhook HMAC-SHA256 key; write-only, never returned",
    )
    slack_channel: SlackChannel | None = Field(
        default=None,
        description="slack-app: the conversation posted to, an id (C0123ABCD) or #name",
    )

    @field_validator("url")
    @classmethod
    def _url_for_its_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if kind is None:  # the type was refused already: that is the error to show
            return value
        if kind in SLACK_APP_TYPES:
            if value is not None:
                raise ValueError(f"a {kind} channel posts through the Slack app: it takes no url")
        elif value is None:
            raise ValueError(f"a {kind} channel needs the http(s) url to post to")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        flat = handler.resolve_ref_schema(handler(core_schema))
        fields = flat["properties"]
        url = next(s for s in fields["url"]["anyOf"] if s.get("type") == "string")
        channel = next(s for s in fields["slackChannel"]["anyOf"] if s.get("type") == "string")
        secret = next(s for s in fields["secret"]["anyOf"] if s.get("type") == "string")

        def shape(kind: ChannelType, **properties: Any) -> dict[str, Any]:
            required = [name for name in properties if name != "secret"]
            return {
                "type": "object",
                "title": f"{kind.value} channel",
                "properties": {"type": {"type": "string", "const": kind.value}, **properties},
                "required": ["type", *required],
                "additionalProperties": False,
            }

        return {
            "title": "ChannelRequest",
            "description": flat.get("description", ""),
            "oneOf": [
                shape(ChannelType.WEBHOOK, url=url, secret=secret),
                shape(ChannelType.SLACK, url=url, secret=secret),
                shape(ChannelType.SLACK_APP, slackChannel=channel),
                shape(ChannelType.SLACK_DM),
            ],
        }

    @field_validator("secret")
    @classmethod
    def _secret_for_webhooks(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("type") in SLACK_APP_TYPES:
            raise ValueError("a channel of the Slack app takes no secret")
        return value


class Channel(WireModel):
    team: str
    name: str
    type: ChannelType
    url: str  # "" for slack-app and slack-dm
    has_secret: bool = False
    slack_channel: str | None = None
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
