"""Posting notifications through the Slack app's Web API (``slack-app`` and ``slack-dm``
channels), with the notifier's retries and a delivery log row per attempt.

A ``slack-app`` channel posts to its conversation; a ``slack-dm`` channel to the object's
owner, in a direct message to each Slack user linked to that owner (conversations.open).
An owner with no link is one row of the delivery log saying so, never retried. A row's
``ok`` and ``error`` are Slack's; ``ratelimited`` is retried after Slack's Retry-After,
an answer Slack did not give (no connection, a 5xx) after the notifier's doubling wait,
any other error not at all. The bot token never reaches a log line or a row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import ChannelType, Delivery
from sapwood.server.clock import Clock
from sapwood.server.observe.messages import Notification, Target, retry_delay_s
from sapwood.server.observe.slack_alerts import SlackPost, slack_post
from sapwood.server.services.slack_links import slack_users_of
from sapwood.server.settings import SlackSettings
from sapwood.server.store.engine import AsyncSession

log = logging.getLogger("sapwood.notifier")

Record = Callable[[Target, Notification, int, int | None, bool, str | None], Awaitable[Delivery]]
"""Writes one attempt to the delivery log: (target, note, attempt, status, ok, error)."""

MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is waited this long: the loop moves on
NOT_CONFIGURED = "the Slack app is not configured on this server (SAPWOOD_SLACK_BOT_TOKEN)"


def web_client(settings: SlackSettings, *, timeout_s: float = 10.0) -> AsyncWebClient | None:
    """The bot's Web API client; None when the Slack app is not configured. Its own retries
    are off: the notifier retries, so that each attempt is a row of the delivery log."""
    if settings.bot_token is None:
        return None
    return AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        timeout=int(timeout_s),
        retry_handlers=[],
    )


@dataclass(frozen=True)
class Answer:
    """Slack's answer to one attempt: its HTTP status, ok, error, and Retry-After."""

    status: int | None
    ok: bool
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        if self.ok:
            return False
        return self.error == "ratelimited" or self.status is None or self.status >= 500


class SlackPoster:
    """Delivers notifications to the Slack app's channels; the notifier holds one when the
    app is configured."""

    def __init__(
        self,
        client: AsyncWebClient,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        record: Record,
        attempts: int = 3,
        base_delay_s: float = 1.0,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.clock = clock
        self.record = record
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self._app_team: str | None = None  # the Slack workspace the bot token belongs to

    async def deliver(self, target: Target, note: Notification) -> Delivery:
        """Posts ``note`` to the target's conversation, or to its owner's direct messages
        (each linked Slack user); returns the last attempt's row."""
        post = slack_post(note)
        if target.type == ChannelType.SLACK_APP.value:
            return await self._post(target, note, post, target.slack_channel or "", dm=False)
        refusal, users = await self._owner_users(note)
        if refusal is not None:
            log.info(
                "notify %s %s/%s -> %s: %s", note.event, note.kind, note.name, target.name, refusal
            )
            return await self.record(target, note, 1, None, False, refusal)
        last: Delivery | None = None
        for slack_user in users:
            last = await self._post(target, note, post, slack_user, dm=True)
        assert last is not None
        return last

    async def _owner_users(self, note: Notification) -> tuple[str | None, list[str]]:
        """The Slack users to message about ``note``, or why there are none."""
        if not note.owner:
            return f"{note.kind.lower()}/{note.name} has no known owner to message", []
        async with self.sessions() as session:
            linked = await slack_users_of(session, note.owner)
        if not linked:
            return f"owner {note.owner} has not linked Slack", []
        # The one bot token reaches one Slack workspace: a link made in another cannot be
        # messaged from here (Slack would answer user_not_found).
        team = await self._team()
        here = [user for slack_team, user in linked if team is None or slack_team == team]
        if not here:
            return f"owner {note.owner} has linked Slack only in another Slack workspace", []
        return None, here

    async def _team(self) -> str | None:
        """The bot's Slack workspace (auth.test, asked once); None while it cannot be told,
        and then every link is tried."""
        if self._app_team is None:
            try:
                answer = await self.client.auth_test()
                self._app_team = str(answer.get("team_id") or "") or None
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.info("auth.test failed (%s): messaging every linked Slack user", exc)
        return self._app_team

    async def _post(
        self, target: Target, note: Notification, post: SlackPost, to: str, *, dm: bool
    ) -> Delivery:
        last: Delivery | None = None
        for attempt in range(1, self.attempts + 1):
            answer = await self._attempt(post, to, dm=dm)
            last = await self.record(target, note, attempt, answer.status, answer.ok, answer.error)
            log.info(
                "notify %s %s/%s -> channel %s/%s (slack %s) attempt %d: %s",
                note.event,
                note.kind.lower(),
                note.name,
                target.team,
                target.name,
                "direct message" if dm else to,
                attempt,
                "ok" if answer.ok else answer.error,
            )
            if not answer.retryable or attempt == self.attempts:
                break
            if answer.retry_after_s is not None:
                await self.clock.sleep(min(answer.retry_after_s, MAX_RETRY_AFTER_S))
            else:
                await self.clock.sleep(retry_delay_s(attempt, base_s=self.base_delay_s))
        assert last is not None
        return last

    async def _attempt(self, post: SlackPost, to: str, *, dm: bool) -> Answer:
        """One try: open the direct message when ``dm`` (``to`` is a Slack user), then
        chat.postMessage."""
        try:
            channel = to
            if dm:
                opened = await self.client.conversations_open(users=to)
                channel = str(opened["channel"]["id"])
            response = await self.client.chat_postMessage(
                channel=channel, text=post.text, blocks=post.blocks
            )
            return Answer(response.status_code, True)
        except SlackApiError as exc:
            answer = exc.response
            error = answer.get("error") if isinstance(answer.data, dict) else None
            return Answer(
                answer.status_code,
                False,
                str(error or f"HTTP {answer.status_code}"),
                _retry_after_s(answer.headers),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Answer(None, False, self._scrub(f"{type(exc).__name__}: {exc}"))

    def _scrub(self, text: str) -> str:
        token = self.client.token
        return (text.replace(token, "***") if token else text)[:500]


def _retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Slack's Retry-After in seconds (aiohttp's headers ignore case); None when absent."""
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None
