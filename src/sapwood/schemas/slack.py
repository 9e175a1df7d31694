"""The Slack app's status on the wire (``GET /api/v1/slack``, admins only)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from sapwood.schemas.base import WireModel


class SlackMode(StrEnum):
    OFF = "off"  # no bot token: the app is not configured
    HTTP = "http"  # Slack posts to /slack/events
    SOCKET = "socket"  # the server dials out (Socket Mode)


class SlackStatus(WireModel):
    """What an operator needs to know of the Slack app on the replica that answered."""

    mode: SlackMode
    connected: bool | None = Field(
        default=None, description="Socket Mode: whether a socket to Slack is open now"
    )
    sockets_opened: int = Field(default=0, description="Socket Mode: sockets opened so far")
    connect_failures: int = Field(
        default=0, description="Socket Mode: failed connects in a row, now (0: connected)"
    )
    last_error: str | None = Field(
        default=None, description="the last failure to connect, as Slack or the network put it"
    )
    last_error_at: datetime | None = None
