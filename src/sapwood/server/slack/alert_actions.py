"""The buttons of the notifier's Slack messages (observe/slack_alerts.py): Pause it, Shrink
the request, Dismiss for a day, Logs and Rerun.

Each click acts as the clicking Slack user's linked Sapwood user, through the services
the API uses (pause_object, apply_objects, dismiss_underuse, log_tail, rerun_job), so it
is allowed exactly when the API would allow it. An unlinked user, a refusal (a viewer, a
job still running) or an object replaced since the alert (another uid) is told so in a
message only the clicker sees, and nothing changes. Once something was done, the
message's buttons are replaced by a line saying what and by whom ("Paused by @alice");
a job's Logs button stays.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sapwood.server.observe.messages import Shrink
from sapwood.server.observe.slack_alerts import (
    ALERT_DISMISS,
    ALERT_PAUSE,
    ALERT_SHRINK,
    JOB_LOGS,
    JOB_RERUN,
    ActionValue,
    acted_blocks,
    shrink_text,
)
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import ConflictError, ServiceError
from sapwood.server.services.notifications import dismiss_underuse
from sapwood.server.services.objects import apply_objects, find_object
from sapwood.server.services.pause import pause_object
from sapwood.server.services.rerun import rerun_job
from sapwood.server.services.slack_links import linked_caller
from sapwood.server.slack.logs import log_tail
from sapwood.server.slack.message import Message
from sapwood.server.state import AppState
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow

log = logging.getLogger("sapwood.slack")

LINK_FIRST = "Link your Slack user to your Sapwood user first: `/sapwood link`"
NOT_OURS = "This button is not one Sapwood made: nothing was done."


def changed_since(kind: str, name: str) -> str:
    """Why a Shrink did nothing: the spec changed after the alert suggested its request."""
    return (
        f"The spec of {kind.lower()}/{name} changed since this alert, so its suggestion may "
        "no longer fit: nothing was shrunk. Look at it with `/sapwood env list` or "
        f"`sapwood describe {kind.lower()} {name}`."
    )


@dataclass(frozen=True)
class Click:
    """What a ``block_actions`` payload says about one click on a message's button."""

    slack_team: str
    slack_user: str
    channel: str | None
    ts: str | None
    text: str
    blocks: list[dict[str, Any]]
    value: str

    @classmethod
    def of(cls, body: dict[str, Any], action: dict[str, Any]) -> Click:
        user = body.get("user") or {}
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        return cls(
            slack_team=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
            slack_user=str(user.get("id") or ""),
            channel=channel,
            ts=container.get("message_ts") or message.get("ts"),
            text=str(message.get("text") or ""),
            blocks=list(message.get("blocks") or []),
            value=str(action.get("value") or ""),
        )


@dataclass(frozen=True)
class Done:
    """What a click did: the line that replaces the buttons (None: the message stays),
    and a private answer to the clicker (None: nothing to say)."""

    line: str | None
    answer: Message | None = None
    keep: tuple[str, ...] = ()


Act = Callable[[Caller, ActionValue, Click], Awaitable[Done]]


class AlertActions:
    """The listeners' work, on the app's state and the bot's Web API client."""

    def __init__(self, state: AppState, client: AsyncWebClient) -> None:
        self.state = state
        self.client = client

    def listener(self, act: Act) -> Callable[..., Awaitable[None]]:
        """A bolt listener that acks at once, then runs ``act`` as the linked caller."""

        async def listen(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
            await ack()
            await self.handle(act, Click.of(body, action))

        return listen

    async def handle(self, act: Act, click: Click) -> None:
        async with self.state.sessions() as session:
            caller = await linked_caller(session, click.slack_team, click.slack_user)
        if caller is None:
            await self._tell(click, Message(LINK_FIRST))
            return
        try:
            value = ActionValue.parse(click.value)
        except ValueError:
            await self._tell(click, Message(NOT_OURS))
            return
        try:
            done = await act(caller, value, click)
        except ServiceError as exc:
            text = exc.message + (f" ({exc.hint})" if exc.hint else "")
            await self._tell(click, Message(f"Nothing was done: {text}"))
            return
        if done.answer is not None:
            await self._tell(click, done.answer)
        if done.line is not None:
            await self._replace_buttons(click, done)

    # the actions

    async def pause(self, caller: Caller, value: ActionValue, click: Click) -> Done:
        async with self.state.sessions() as session:
            await self._same_object(session, caller, value)
            await pause_object(
                session, caller, value.kind, value.name, team=value.team, now=self._now()
            )
        return Done(f"Paused by <@{click.slack_user}>")

    async def shrink(self, caller: Caller, value: ActionValue, click: Click) -> Done:
        """Applies the object's spec with only ``resources`` changed: the CPU (millis) or
        the GPUs per replica the alert suggested (no GPU model without a GPU)."""
        if value.cpu is None and value.gpus is None:
            return Done(None, Message(NOT_OURS))
        async with self.state.sessions() as session:
            row = await self._same_object(session, caller, value)
            if value.generation is not None and row.generation != value.generation:
                return Done(None, Message(changed_since(row.kind, row.name)))
            spec = dict(row.spec)
            resources = dict(spec.get("resources") or {})
            if value.cpu is not None:
                resources["cpu"] = f"{value.cpu}m"
            if value.gpus is not None:
                resources["gpu"] = value.gpus
                if value.gpus == 0:
                    resources.pop("gpuModel", None)
            spec["resources"] = resources
            document = {
                "apiVersion": "sapwood/v1",
                "kind": row.kind,
                "metadata": {
                    "name": row.name,
                    "team": row.team,
                    "labels": dict(row.labels),
                    # A write since this read is a 409, not a silent overwrite.
                    "resourceVersion": row.resource_version,
                },
                "spec": spec,
            }
            await apply_objects(
                session,
                caller,
                [document],
                dry_run=False,
                now=self._now(),
                priorities=self.state.settings.scheduling.priorities,
                local_workdirs=self.state.local_workdirs,
            )
        what = shrink_text(Shrink(cpu_millis=value.cpu, gpus=value.gpus))
        return Done(f"Request shrunk to {what} per replica by <@{click.slack_user}>")

    async def dismiss(self, caller: Caller, value: ActionValue, click: Click) -> Done:
        async with self.state.sessions() as session:
            await self._same_object(session, caller, value)
            until = await dismiss_underuse(
                session, caller, value.kind, value.name, team=value.team, now=self._now()
            )
        when = until.strftime("%Y-%m-%d %H:%M UTC")
        return Done(f"Dismissed by <@{click.slack_user}>: no under-use alert until {when}")

    async def logs(self, caller: Caller, value: ActionValue, click: Click) -> Done:
        answer = await log_tail(self.state, caller, value.kind, value.name, team=value.team)
        return Done(None, answer)

    async def rerun(self, caller: Caller, value: ActionValue, click: Click) -> Done:
        async with self.state.sessions() as session:
            await self._same_object(session, caller, value)
            obj = await rerun_job(session, caller, value.name, team=value.team, now=self._now())
        run = obj.status.get("run")
        which = f" (run {run})" if run else ""
        return Done(f"Rerun by <@{click.slack_user}>{which}", keep=(JOB_LOGS,))

    # helpers

    def _now(self) -> datetime:
        return self.state.clock.now()

    async def _same_object(
        self, session: AsyncSession, caller: Caller, value: ActionValue
    ) -> ObjectRow:
        """The object the button names, as the caller reads it; ConflictError when the
        name now belongs to another object than the one the message is about."""
        row = await find_object(session, caller, value.kind, value.name, team=value.team)
        if row.uid != value.uid:
            raise ConflictError(
                f"{value.kind.lower()}/{value.name} in team {value.team} was deleted and "
                "made again since this message"
            )
        return row

    async def _tell(self, click: Click, message: Message) -> None:
        """A message only the clicker sees; a long log goes to them as a file in a DM."""
        try:
            if message.file is not None:
                opened = await self.client.conversations_open(users=click.slack_user)
                await self.client.files_upload_v2(
                    channel=str(opened["channel"]["id"]),
                    content=message.file.content,
                    filename=message.file.filename,
                    title=message.file.title,
                    initial_comment=message.text,
                )
                return
            if click.channel is None:
                return
            await self.client.chat_postEphemeral(
                channel=click.channel,
                user=click.slack_user,
                text=message.text,
                blocks=message.blocks or None,
            )
        except SlackApiError as exc:
            log.warning("answering a Slack click failed: %s", exc.response.get("error"))

    async def _replace_buttons(self, click: Click, done: Done) -> None:
        if click.channel is None or click.ts is None or done.line is None:
            return
        blocks = acted_blocks(click.blocks, done.line, keep=done.keep)
        try:
            await self.client.chat_update(
                channel=click.channel, ts=click.ts, text=click.text or done.line, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("updating a Slack alert failed: %s", exc.response.get("error"))


def register(bolt: AsyncApp, state: AppState, client: AsyncWebClient) -> None:
    """Adds the listeners of the five notification buttons to ``bolt``."""
    actions = AlertActions(state, client)
    acts: dict[str, Act] = {
        ALERT_PAUSE: actions.pause,
        ALERT_SHRINK: actions.shrink,
        ALERT_DISMISS: actions.dismiss,
        JOB_LOGS: actions.logs,
        JOB_RERUN: actions.rerun,
    }
    for action_id, act in acts.items():
        bolt.action(action_id)(actions.listener(act))
