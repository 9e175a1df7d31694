"""What every listener needs: the app's state and Slack client, who is asking (the Slack
user, and the Sapwood user it is linked to), and where the app's pages live. The pure parts
read ids out of Slack's payloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from sapwood.server.services import slack_links
from sapwood.server.services.access import Caller
from sapwood.server.slack.message import Message
from sapwood.server.state import AppState

LINK_HINT = (
    "Your Slack user is not linked to a Sapwood user yet: run `/sapwood link` and open the "
    "link it sends you."
)


@dataclass(frozen=True)
class SlackUser:
    """A Slack user, in a Slack workspace (team)."""

    team: str
    user: str


@dataclass(frozen=True)
class Deps:
    """What the listeners act through; one per front end."""

    state: AppState
    client: AsyncWebClient

    async def caller(self, who: SlackUser) -> Caller | None:
        """The Sapwood caller the Slack user acts as; None when not linked."""
        async with self.state.sessions() as session:
            return await slack_links.linked_caller(session, who.team, who.user)

    async def link_url(self, who: SlackUser) -> str:
        """A fresh one-time link (a secret: never log it) to the dashboard page that links
        this Slack user to whoever confirms it there."""
        async with self.state.sessions() as session:
            code = await slack_links.start_link(session, who.team, who.user, now=self.now())
        return self.state.settings.public_url + slack_links.link_path(code)

    def now(self) -> datetime:
        return self.state.clock.now()

    async def dm_channel(self, user: str) -> str:
        """The id of the app's direct-message channel with ``user``."""
        opened = await self.client.conversations_open(users=user)
        return str(opened["channel"]["id"])

    async def post(self, channel: str, message: Message) -> tuple[str, str]:
        """Posts ``message`` (its file too) in ``channel``; returns (channel, ts) of the
        message, the channel as Slack names it."""
        posted = await self.client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks or None
        )
        channel_id, ts = str(posted["channel"]), str(posted["ts"])
        if message.file is not None:
            await self.client.files_upload_v2(
                channel=channel_id,
                filename=message.file.filename,
                content=message.file.content,
                title=message.file.title,
            )
        return channel_id, ts


def slack_user(body: Mapping[str, Any]) -> SlackUser:
    """Who sent a command, a submission or a button press."""
    team = body.get("team_id") or (body.get("team") or {}).get("id") or ""
    user = body.get("user_id") or (body.get("user") or {}).get("id") or ""
    return SlackUser(team=str(team), user=str(user))


def interaction_key(body: Mapping[str, Any]) -> str | None:
    """The key that makes one interaction act once, however often it is delivered (a
    Slack retry, a redelivered Socket Mode envelope, another replica): a command's or a
    button press's trigger id; a submission's view id and trigger id (a submission that
    was refused with errors can be sent again from the same view, with a new trigger).
    None for anything else (nothing to guard)."""
    trigger = body.get("trigger_id")
    if body.get("command") and trigger:
        return f"command:{trigger}"
    kind = body.get("type")
    if kind == "view_submission":
        view_id = (body.get("view") or {}).get("id")
        if not view_id:
            return None
        return f"view:{view_id}:{trigger}" if trigger else f"view:{view_id}"
    if kind == "block_actions" and trigger:
        return f"action:{trigger}"
    return None
