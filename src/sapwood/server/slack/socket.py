"""Socket Mode that does not go deaf: bolt's aiohttp Socket Mode handler, watched.

slack_sdk's aiohttp client already reconnects when Slack sends ``disconnect`` or closes
the socket, and when its pings go unanswered for four intervals; bolt acks each envelope.
What it lacks, added here by a watchdog that looks every ``check_s``:

- a socket that stays open but no longer brings anything (Slack's sockets sometimes go
  quiet without closing) is never replaced: here each is replaced once older than
  ``max_age_s`` (less up to a tenth, so replicas do not all renew at once);
- the first connection blocks its caller until it succeeds: here it is made in the
  background and retried with jittered backoff, so a Slack outage never stalls startup;
- its own reconnect retries the same one-time socket URL forever when connecting fails:
  here a reconnect that is stuck is sent to fetch a fresh URL;
- nobody counts the sockets: ``connections`` does; ``stop`` waits for every task.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient

log = logging.getLogger("sapwood.slack.socket")

BACKOFF_START_S = 0.5
BACKOFF_CAP_S = 5.0
CONNECT_TIMEOUT_S = 15.0  # one attempt: a fresh URL, then the socket
AGE_JITTER = 0.1
DRAIN_S = 3.0  # at stop, how long envelopes being handled may finish (Slack's ack deadline)


def backoff_s(failures: int, *, rand: Callable[[], float] = random.random) -> float:
    """The wait after ``failures`` failed connects in a row: doubling from
    BACKOFF_START_S up to BACKOFF_CAP_S, of which a random half to all is taken."""
    full = min(BACKOFF_CAP_S, BACKOFF_START_S * 2.0 ** max(0, failures - 1))
    return full * (0.5 + 0.5 * rand())


def describe(exc: BaseException) -> str:
    """An error in words without what it carried: Slack's error code, or the type."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error', 'an error')}"
    if isinstance(exc, TimeoutError):
        return f"no connection within {CONNECT_TIMEOUT_S:.0f} s"
    return type(exc).__name__


@dataclass(frozen=True)
class SocketState:
    """What an operator sees of the link to Slack (``GET /api/v1/slack``)."""

    connected: bool
    connections: int  # sockets opened so far
    failures: int  # failed connects in a row, now
    last_error: str | None
    last_error_at: datetime | None


class _Client(SocketModeClient):
    """slack_sdk's aiohttp Socket Mode client, noting each socket it opens and the
    envelopes it is handling."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.opened = 0
        self.opened_at = 0.0  # time.monotonic() when the current socket opened
        self.handling: set[asyncio.Task[Any]] = set()

    async def connect(self) -> None:
        before = self.current_session
        await super().connect()  # type: ignore[no-untyped-call]
        if self.current_session is not None and self.current_session is not before:
            self.opened += 1
            self.opened_at = time.monotonic()

    async def run_message_listeners(self, message: dict[str, Any], raw_message: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handling.add(task)
        try:
            await super().run_message_listeners(message, raw_message)
        finally:
            if task is not None:
                self.handling.discard(task)


class _Handler(AsyncSocketModeHandler):
    """bolt's handler over the counting client (its own __init__ builds a plain one)."""

    client: _Client

    def __init__(self, app: AsyncApp, *, app_token: str, ping_interval_s: float) -> None:
        self.app = app
        self.app_token = app_token
        self.client = _Client(
            app_token=app_token,
            logger=log,
            web_client=app.client,
            ping_interval=ping_interval_s,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]


class SocketModeRunner:
    """Keeps one live Socket Mode connection for ``bolt`` while started: looks every
    ``check_s`` (at most half of ``max_age_s``), and the client pings at that pace."""

    def __init__(
        self, bolt: AsyncApp, *, app_token: str, max_age_s: float, check_s: float = 5.0
    ) -> None:
        if not app_token.startswith("xapp-"):
            raise ValueError(
                "Socket Mode needs an app-level token (SAPWOOD_SLACK_APP_TOKEN, xapp-...)"
            )
        if max_age_s <= 0 or check_s <= 0:
            raise ValueError(f"max_age_s and check_s must be positive: {max_age_s}, {check_s}")
        self.bolt = bolt
        self._app_token = app_token
        self.max_age_s = max_age_s
        # At least two looks per lifetime, so a short max age is kept to; the client pings
        # at the same pace.
        self.check_s = min(check_s, max_age_s / 2)
        self._handler: _Handler | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._opened_before = 0  # sockets of earlier starts
        self._connected = False  # as the watchdog last found it
        self._failures = 0
        self._last_error: tuple[str, datetime] | None = None

    @property
    def connections(self) -> int:
        """Sockets opened so far."""
        handler = self._handler
        return self._opened_before + (handler.client.opened if handler is not None else 0)

    def state(self) -> SocketState:
        """The link as the watchdog last looked at it (every ``check_s``)."""
        error, at = self._last_error if self._last_error is not None else (None, None)
        return SocketState(self._connected, self.connections, self._failures, error, at)

    async def start(self) -> None:
        """Returns at once: connects in the background and keeps the connection fresh.
        Idempotent."""
        if self._watchdog is not None:
            return
        # The client starts its message task when built: it needs the running loop.
        handler = _Handler(self.bolt, app_token=self._app_token, ping_interval_s=self.check_s)
        self._handler = handler
        self._watchdog = asyncio.create_task(self._watch(handler.client), name="sapwood-slack")

    async def stop(self) -> None:
        """Closes the socket and ends every task the client ran; envelopes being handled
        get DRAIN_S to finish first. Idempotent."""
        watchdog, handler = self._watchdog, self._handler
        self._watchdog = None
        if watchdog is not None:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        if handler is None:
            return
        client = handler.client
        if client.handling:
            await asyncio.wait(set(client.handling), timeout=DRAIN_S)
        # Closing cancels the client's tasks without waiting for them: waited for below.
        await handler.close_async()  # type: ignore[no-untyped-call]
        own = (client.message_processor, client.current_session_monitor, client.message_receiver)
        tasks = [t for t in own if t is not None]
        for task in client.handling:
            task.cancel()
        await asyncio.gather(*tasks, *client.handling, return_exceptions=True)
        self._opened_before += client.opened
        self._handler = None

    async def _watch(self, client: _Client) -> None:
        failures = 0
        lifetime = self._lifetime()
        while True:
            why = await self._why_replace(client, lifetime)
            if why is not None:
                try:
                    await asyncio.wait_for(self._replace(client, why), CONNECT_TIMEOUT_S)
                except Exception as exc:  # never give up: Slack may be down for a while
                    failures += 1
                    self._connected, self._failures = False, failures
                    self._last_error = (describe(exc), datetime.now(UTC))
                    delay = backoff_s(failures)
                    log.warning(
                        "Slack Socket Mode: connecting failed (%s, %d in a row); again in %.1f s",
                        describe(exc),
                        failures,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                failures = self._failures = 0
                lifetime = self._lifetime()
            self._connected = await client.is_connected()
            await asyncio.sleep(self.check_s)

    async def _why_replace(self, client: _Client, lifetime: float) -> str | None:
        """Why the connection should be replaced now; None when it is fine, or when the
        client is reconnecting by itself."""
        if client.connect_operation_lock.locked():
            # The client's own reconnect is under way. Should it be failing, it retries
            # the URL it has, which Slack accepts once: let it fetch a fresh one.
            if not await client.is_connected():
                client.wss_uri = None
            return None
        if client.current_session is None:
            return "no connection yet"
        if not await client.is_connected():
            return "the connection ended or stopped answering pings"
        if time.monotonic() - client.opened_at >= lifetime:
            return f"the connection is older than {self.max_age_s:.0f} s"
        return None

    async def _replace(self, client: _Client, why: str) -> None:
        """The old socket closed and a new one opened from a fresh URL: what the client's
        ``connect_to_new_endpoint(force=True)`` does, but only when its connect lock is
        free (that method goes ahead without the lock after 5 s), so it never runs beside
        the client's own reconnect (two would leave a socket open)."""
        if client.connect_operation_lock.locked():
            return
        async with client.connect_operation_lock:
            log.info("Slack Socket Mode: connecting (%s)", why)
            client.wss_uri = await client.issue_new_wss_url()
            await client.connect()

    def _lifetime(self) -> float:
        return self.max_age_s * (1.0 - AGE_JITTER * random.random())
