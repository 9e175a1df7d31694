"""What the app answers: ``/sapwood`` and its verbs, the env-create modal's submission, the
workspace buttons; and the middleware that makes each interaction act once.

Every command is acknowledged first (Slack waits 3 seconds at most); answers that take a
moment go back through the command's response_url, seen only by the user who asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from sapwood.server.services import slack_links
from sapwood.server.slack import blocks, envs, forms, report_blocks, reports
from sapwood.server.slack.commands import CommandError, Verb, parse
from sapwood.server.slack.context import LINK_HINT, Deps, SlackUser, interaction_key, slack_user
from sapwood.server.slack.message import Message

log = logging.getLogger("sapwood.slack")
COMMAND = "/sapwood"
SORRY = "Something went wrong on the Sapwood server; try again soon."


class InFlight:
    """The listeners still running after their ack (bolt runs them as loose tasks), so the
    server can let them finish before it closes the database."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self, *, timeout_s: float) -> None:
        """Waits up to ``timeout_s`` for the running listeners; cancels what is left."""
        if not self._tasks:
            return
        _, left = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in left:
            task.cancel()
        if left:
            log.warning("%d Slack listener(s) still running at shutdown were cancelled", len(left))
            await asyncio.gather(*left, return_exceptions=True)


def register(bolt: AsyncApp, deps: Deps) -> InFlight:
    """Adds the middleware and listeners of the commands, the form and the workspace
    buttons to ``bolt``; returns what tracks the listeners still running."""
    running = InFlight()

    async def once(body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> Any:
        return await act_once(deps, body, next_)

    async def on_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        running.add()
        await ack()
        try:
            await command(deps, body, respond)
        except Exception:
            log.exception("/sapwood %s failed", _verb(body))
            await _reply(respond, Message(SORRY))

    async def on_submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        running.add()
        await envs.submit_form(deps, body, ack)

    async def on_button(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        running.add()
        await ack()
        await envs.press(deps, body, respond)

    async def on_link_button(ack: AsyncAck) -> None:
        await ack()  # a URL button: Slack opens the page, and still tells the app

    bolt.middleware(once)
    bolt.command(COMMAND)(on_command)
    bolt.view(forms.ENV_CREATE)(on_submit)
    for action in (blocks.PAUSE, blocks.RESUME, blocks.DELETE, blocks.EXTEND):
        bolt.action(action)(on_button)
    for action in (blocks.OPEN, forms.LINK_OPEN):
        bolt.action(action)(on_link_button)
    return running


async def act_once(
    deps: Deps, body: Mapping[str, Any], next_: Callable[[], Awaitable[None]]
) -> BoltResponse | None:
    """Lets a command, submission or button press through the first time it is delivered
    (on any replica); a repeat is acknowledged and dropped, so a retry never acts twice."""
    key = interaction_key(body)
    if key is not None:
        async with deps.state.sessions() as session:
            first = await slack_links.claim_interaction(session, key, now=deps.now())
        if not first:
            log.info("a repeated Slack delivery (%s) was dropped", key.split(":", 1)[0])
            return BoltResponse(status=200, body="")
    await next_()
    return None


async def command(deps: Deps, body: Mapping[str, Any], respond: AsyncRespond) -> None:
    """Answers ``/sapwood …`` (already acknowledged)."""
    try:
        parsed = parse(str(body.get("text") or ""))
    except CommandError as exc:
        await _reply(respond, Message(text=str(exc)))
        return
    if parsed.verb is Verb.ENV_CREATE:
        await envs.open_form(deps, body, respond)
        return
    who = slack_user(body)
    if parsed.verb is Verb.LINK:
        await _link(deps, who, respond)
        return
    if parsed.verb is Verb.UNLINK:
        async with deps.state.sessions() as session:
            had = await slack_links.unlink(session, who.team, who.user)
        text = "Unlinked: your Slack user no longer acts as a Sapwood user."
        await _reply(respond, Message(text if had else "Your Slack user was not linked."))
        return
    caller = await deps.caller(who)
    if caller is None:
        if parsed.verb is Verb.HELP:  # help needs no link, and says how to link
            await _reply(respond, report_blocks.help_message())
        await _reply(respond, Message(LINK_HINT))
        return
    answer = await reports.answer(deps.state, caller, parsed, now=deps.now())
    if answer.file is not None:
        await _post_file(deps, body, answer, respond)
        return
    await _reply(respond, answer)


async def _link(deps: Deps, who: SlackUser, respond: AsyncRespond) -> None:
    """Sends the user a one-time link in a DM: a link in a channel would let anyone there
    link their own Sapwood user to this Slack user."""
    url = await deps.link_url(who)
    minutes = int(slack_links.LINK_TTL.total_seconds() // 60)
    text = (
        f"<{url}|Open this link> within {minutes} minutes and sign in to Sapwood to link "
        "your Slack user to your Sapwood user. Only you can see this message; do not share "
        "the link."
    )
    await deps.client.chat_postMessage(channel=await deps.dm_channel(who.user), text=text)
    await _reply(respond, Message("I sent you a link in a DM: open it to link your account."))


async def _post_file(
    deps: Deps, body: Mapping[str, Any], answer: Message, respond: AsyncRespond
) -> None:
    """A long answer (a log) goes to the channel as a file; to the user's DM when the app
    may not post there."""
    channel = body.get("channel_id")
    if channel:
        try:
            await deps.post(str(channel), answer)
            return
        except SlackApiError as exc:
            log.info(
                "posting a file in the command's channel failed: %s", exc.response.get("error")
            )
    await deps.post(await deps.dm_channel(slack_user(body).user), answer)
    await _reply(respond, Message("The log is long: I sent it to you as a file in a DM."))


def _verb(body: Mapping[str, Any]) -> str:
    """The command's first words, for the log (never the rest: it may hold anything)."""
    return " ".join(str(body.get("text") or "").split()[:2])[:40]


async def _reply(respond: AsyncRespond, message: Message) -> None:
    await respond(text=message.text, blocks=message.blocks or None, response_type="ephemeral")
