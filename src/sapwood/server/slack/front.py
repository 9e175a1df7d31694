"""The Slack app as one object the server composes: the Web API client, the bolt app with
every listener, the HTTP endpoint, Socket Mode, and the leader's live message updates.

Building it calls nothing: bolt asks Slack who the bot is (auth.test) on the first
request, so a server starts while Slack is unreachable. HTTP mode verifies every
request's signature and refuses one older than 5 minutes (401); Socket Mode needs no
signing secret (the socket is the app's own, opened with the app token), and its server
takes no HTTP requests from Slack at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import Object, SlackMode, SlackStatus
from sapwood.server.clock import Clock
from sapwood.server.loop import Loop
from sapwood.server.services import slack_links
from sapwood.server.services.errors import NotFoundError
from sapwood.server.settings import SlackSettings
from sapwood.server.slack import alert_actions, envs, listeners
from sapwood.server.slack.context import Deps
from sapwood.server.slack.message import Message
from sapwood.server.slack.socket import SocketModeRunner
from sapwood.server.slack.updates import MessageUpdater
from sapwood.server.state import AppState
from sapwood.server.store.engine import AsyncSession

log = logging.getLogger("sapwood.slack")
EVENTS_PATH = "/slack/events"
# Slack retries a delivery for minutes at most: a claim older than this guards nothing.
CLAIMS_KEPT = timedelta(hours=1)
PRUNE_EVERY_S = 600.0
DRAIN_S = 5.0  # how long a stopping server waits for acknowledged work to finish
# slack_sdk logs whole request bodies and URLs at DEBUG: a link code in a DM, a response
# URL (which lets its holder answer as the app). These loggers stay at INFO or above
# whatever the server's level, so no secret reaches a log.
WEB_LOG = "sapwood.slack.web"
QUIET_LOGS = (WEB_LOG, "slack_sdk.webhook.async_client", "slack_sdk.web.async_base_client")


class SlackFrontEnd:
    """One per app, built when a bot token is set; ``start``/``stop`` with the lifespan,
    ``lead``/``follow`` with the leader lease (only the leader updates messages)."""

    def __init__(self, state: AppState) -> None:
        slack = state.settings.slack
        if slack.bot_token is None:
            raise ValueError("the Slack app needs SAPWOOD_SLACK_BOT_TOKEN")
        if not slack.socket_mode and slack.signing_secret is None:
            raise ValueError(
                "the Slack app in HTTP mode needs SAPWOOD_SLACK_SIGNING_SECRET to verify "
                "requests (or set SAPWOOD_SLACK_APP_TOKEN for Socket Mode)"
            )
        self.state = state
        self.settings: SlackSettings = slack
        _quiet_sdk_logs()
        self.client = AsyncWebClient(
            token=slack.bot_token.get_secret_value(),
            base_url=slack.api_url,
            logger=logging.getLogger(WEB_LOG),
        )
        secret = slack.signing_secret.get_secret_value() if slack.signing_secret else ""
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=secret,
            process_before_response=False,
            # Socket Mode: the requests come through the app's own socket, unsigned.
            request_verification_enabled=not slack.socket_mode,
            logger=log,
            name="sapwood",
        )
        self.deps = Deps(state=state, client=self.client)
        self._running = listeners.register(self.bolt, self.deps)
        alert_actions.register(self.bolt, state, self.client)
        self.handler = AsyncSlackRequestHandler(self.bolt)
        self.router = APIRouter()
        self.router.add_api_route(
            EVENTS_PATH, self.handle, methods=["POST"], include_in_schema=False
        )
        self._socket: SocketModeRunner | None = None
        self._updater: MessageUpdater | None = None
        self._pruner: ClaimPruner | None = None

    async def handle(self, request: Request) -> Response:
        """``POST /slack/events``: a command, interaction or event, in HTTP mode. In Socket
        Mode there is no such endpoint (requests there would not be signed)."""
        if self.settings.socket_mode:
            raise NotFoundError(
                "this server talks to Slack over Socket Mode: it takes no requests here",
                hint="unset SAPWOOD_SLACK_APP_TOKEN for HTTP mode",
            )
        return await self.handler.handle(request)

    def status(self) -> SlackStatus:
        """The app on this replica: its mode and, in Socket Mode, its link to Slack."""
        if not self.settings.socket_mode:
            return SlackStatus(mode=SlackMode.HTTP)
        if self._socket is None:
            return SlackStatus(mode=SlackMode.SOCKET, connected=False)
        link = self._socket.state()
        return SlackStatus(
            mode=SlackMode.SOCKET,
            connected=link.connected,
            sockets_opened=link.connections,
            connect_failures=link.failures,
            last_error=link.last_error,
            last_error_at=link.last_error_at,
        )

    async def start(self) -> None:
        """Opens Socket Mode when an app token is set; HTTP mode needs nothing started."""
        app_token = self.settings.app_token
        if self.settings.socket_mode and app_token is not None and self._socket is None:
            self._socket = SocketModeRunner(
                self.bolt,
                app_token=app_token.get_secret_value(),
                max_age_s=self.settings.socket_max_age_s,
            )
            await self._socket.start()

    async def stop(self) -> None:
        """Stops taking requests, then lets what was acknowledged finish (briefly)."""
        await self.follow()
        if self._socket is not None:
            await self._socket.stop()
            self._socket = None
        await self._running.drain(timeout_s=DRAIN_S)

    async def lead(self) -> None:
        """Starts the live message updates (one replica sends them: the leader) and the
        pruning of old interaction claims."""
        if self._updater is None:
            self._updater = MessageUpdater(
                self.state.sessions, self.state.clock, self.client, self.render
            )
            await self._updater.start()
        if self._pruner is None:
            self._pruner = ClaimPruner(self.state.sessions, self.state.clock)
            await self._pruner.start()

    async def follow(self) -> None:
        if self._updater is not None:
            await self._updater.stop()
            self._updater = None
        if self._pruner is not None:
            await self._pruner.stop()
            self._pruner = None

    def render(self, obj: Object | None, kind: str, team: str, name: str) -> Message:
        """A tracked message as it should look now."""
        if kind != envs.KIND:
            raise ValueError(f"no message is tracked for a {kind}")
        return envs.render(self.deps, obj, team=team, name=name)


class ClaimPruner(Loop):
    """Forgets interaction claims older than CLAIMS_KEPT, every PRUNE_EVERY_S; leader-only."""

    name = "slack-claims"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        super().__init__(clock=clock, interval_s=PRUNE_EVERY_S)
        self.sessions = sessions

    async def tick(self) -> float | None:
        async with self.sessions() as session:
            before = self.clock.now() - CLAIMS_KEPT
            await slack_links.prune_interactions(session, before=before)
        return None


def _quiet_sdk_logs() -> None:
    for name in QUIET_LOGS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (0) included: it would inherit DEBUG
            logger.setLevel(logging.INFO)
