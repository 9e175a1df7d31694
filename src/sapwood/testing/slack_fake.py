"""A Slack on loopback, for tests and benchmarks of an app that talks to Slack.

``FakeSlack`` runs, in a background thread with its own event loop, the Web API (point
slack_sdk's ``AsyncWebClient(base_url=slack.api_url)`` at it), upload and response URLs
(uvicorn, on a free port) and a Socket Mode WebSocket endpoint (on another free port). It
builds what Slack sends to an app (signed HTTP requests, Socket Mode envelopes) and
records what the app did (``calls``, ``messages``, ``views``, ``files``, ``ephemerals``,
``responses``). Ids and timestamps come from counters, so runs are deterministic; trigger
ids expire after ``trigger_ttl_s`` of real time, as Slack's do after 3 s.

    with FakeSlack() as slack:
        body, headers = slack.command_request("U_ALICE", "env create", channel="C_GENERAL")
        response = await slack.post(http, (body, headers))
        await slack.wait_for(lambda: slack.views)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from sapwood.testing import slack_fake_payloads as payloads
from sapwood.testing.slack_fake_api import dm_channel, web_api
from sapwood.testing.slack_fake_payloads import FORM, Answer, SignedRequest, Team
from sapwood.testing.slack_fake_records import (
    Failure,
    FakeCall,
    FakeEphemeral,
    FakeFile,
    FakeMessage,
    FakeView,
    World,
)
from sapwood.testing.slack_fake_server import START_TIMEOUT_S, LoopbackServers
from sapwood.testing.slack_fake_socket import SocketHub, envelope
from sapwood.testing.waiting import eventually

__all__ = [
    "FakeCall",
    "FakeEphemeral",
    "FakeFile",
    "FakeMessage",
    "FakeSlack",
    "FakeView",
    "SignedRequest",
    "Team",
]

T = TypeVar("T")


class FakeSlack:
    """A fake Slack workspace with the app installed; start() / stop() or a ``with`` block."""

    def __init__(
        self,
        *,
        trigger_ttl_s: float = 3.0,
        team: Team | None = None,
        signing_secret: str = "fake-signing-secret",
        bot_token: str = "xoxb-fake-bot-token",
        app_token: str = "xapp-fake-app-token",
        command: str = "/sapwood",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` ages trigger ids; ``wall_clock`` stamps signed requests."""
        self.team = team or Team()
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.command = command
        self._wall_clock = wall_clock
        self._world = World(self.team, trigger_ttl_s=trigger_ttl_s, clock=clock)
        self._hub = SocketHub(ticket_ok=self._ticket_ok, app_id=self.team.app_id)
        self._servers = LoopbackServers(self._hub, self._app)

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Starts the servers; returns once they listen. RuntimeError when they cannot."""
        self._servers.start()

    def stop(self) -> None:
        """Closes every connection and server. Idempotent."""
        self._servers.stop()

    def _app(self, http_url: str, socket_url: str) -> Starlette:
        self._world.http_url, self._world.socket_url = http_url, socket_url
        return web_api(self._world, bot_token=self.bot_token, app_token=self.app_token)

    def _ticket_ok(self, ticket: str) -> bool:
        with self._world.lock:
            return ticket in self._world.tickets

    # -- where it listens --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL of the fake's HTTP server (``http://127.0.0.1:PORT``)."""
        return self._world.http_url

    @property
    def api_url(self) -> str:
        """The Web API base URL, for ``AsyncWebClient(base_url=...)`` (ends with a slash)."""
        return f"{self._world.http_url}/api/"

    @property
    def team_id(self) -> str:
        return self.team.id

    # -- what the app did --------------------------------------------------------------

    @property
    def calls(self) -> list[FakeCall]:
        return self._world.calls

    @property
    def messages(self) -> list[FakeMessage]:
        """Every message posted, in order (deleted ones too, marked ``deleted``)."""
        return self._world.messages

    @property
    def views(self) -> dict[str, FakeView]:
        return self._world.views

    @property
    def files(self) -> list[FakeFile]:
        """Files uploaded and completed (files.completeUploadExternal), in order."""
        with self._world.lock:
            return [file for file in self._world.files if file.completed]

    @property
    def ephemerals(self) -> list[FakeEphemeral]:
        return self._world.ephemerals

    @property
    def responses(self) -> list[dict[str, Any]]:
        """The bodies the app POSTed to response URLs, in order."""
        return self._world.responses

    def called(self, method: str) -> list[FakeCall]:
        """The calls of one Web API method, in order."""
        with self._world.lock:
            return [call for call in self._world.calls if call.method == method]

    def message(self, channel: str, ts: str) -> FakeMessage:
        """The message posted at ``ts`` in ``channel``; KeyError naming both when none."""
        found = self._world.message(channel, ts)
        if found is None:
            raise KeyError(f"no message {ts} in {channel}")
        return found

    def user_dm(self, user: str) -> str:
        """The bot's direct-message channel with ``user`` (what conversations.open returns)."""
        return dm_channel(user)

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        *,
        retry_after_s: int | None = 1,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with ``error`` (ratelimited: HTTP 429)."""
        with self._world.lock:
            queued = self._world.failures.setdefault(method, [])
            queued.extend(Failure(error=error, retry_after_s=retry_after_s) for _ in range(times))

    async def wait_for(
        self, condition: Callable[[], T], *, timeout_s: float = 10, what: str = "the fake Slack"
    ) -> T:
        """Returns ``condition()``'s first truthy result; AssertionError after ``timeout_s``."""

        async def probe() -> T:
            with self._world.lock:
                return condition()

        return await eventually(probe, timeout_s=timeout_s, what=what)

    # -- what Slack sends to the app ---------------------------------------------------

    def mint_trigger(self, user: str) -> str:
        """A fresh trigger id for ``user`` (each built request gets one of its own)."""
        return self._world.mint_trigger(user)

    def signed(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        content_type: str = FORM,
    ) -> SignedRequest:
        """``body`` with Slack's signature headers; another timestamp or secret makes a bad one."""
        stamp = int(self._wall_clock()) if timestamp is None else timestamp
        key = self.signing_secret if secret is None else secret
        return body, payloads.signed_headers(key, stamp, body, content_type)

    def command_payload(
        self, user: str, text: str, *, channel: str = "C_GENERAL", command: str | None = None
    ) -> dict[str, str]:
        """A slash command's fields with a fresh trigger id and response URL."""
        return payloads.command_payload(
            self.team,
            user=user,
            text=text,
            channel=channel,
            command=command or self.command,
            response_url=self._world.mint_response_url(channel=None, ts=None),
            trigger_id=self.mint_trigger(user),
        )

    def command_request(
        self, user: str, text: str, *, channel: str = "C_GENERAL", command: str | None = None
    ) -> SignedRequest:
        """The signed HTTP request of ``/sapwood text`` typed by ``user`` in ``channel``."""
        fields = self.command_payload(user, text, channel=channel, command=command)
        return self.signed(payloads.form_body(fields))

    def block_action_payload(
        self,
        user: str,
        *,
        action_id: str,
        value: str | None = None,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
    ) -> dict[str, Any]:
        """A click on element ``action_id`` in the message at (channel, ts) or in a view.

        The element is looked up where the user clicked it, and its block id, text and
        value go in the payload (``value`` overrides the value). With a message or view
        given, ValueError when it shows no such element: a user can click only what
        is shown. With neither, the payload carries just the action.
        """
        blocks: list[Any] = []
        message: dict[str, Any] | None = None
        view: dict[str, Any] | None = None
        if view_id is not None:
            view = dict(self._view(view_id).view)
            blocks = view.get("blocks", [])
        elif ts is not None:
            if channel is None:
                raise ValueError("a click on a message needs its channel as well as its ts")
            shown = self.message(channel, ts)
            message, blocks = shown.as_slack(self.team), shown.blocks
        found = payloads.find_element(blocks, action_id)
        if found is None and (message is not None or view is not None):
            where = f"view {view_id}" if view is not None else f"message {ts} in {channel}"
            raise ValueError(f"{where} shows no element with action_id {action_id!r}")
        block_id, element = found or ("", {"type": "button", "action_id": action_id})
        return payloads.block_action_payload(
            self.team,
            user=user,
            action=payloads.clicked(block_id, element, value=value),
            trigger_id=self.mint_trigger(user),
            response_url=self._world.mint_response_url(channel=channel, ts=ts)
            if view is None
            else None,
            channel=channel,
            message=message,
            view=view,
        )

    def block_action_request(
        self,
        user: str,
        *,
        action_id: str,
        value: str | None = None,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
    ) -> SignedRequest:
        """The signed HTTP request of ``block_action_payload`` (see there)."""
        payload = self.block_action_payload(
            user, action_id=action_id, value=value, channel=channel, ts=ts, view_id=view_id
        )
        return self.signed(payloads.interactive_body(payload))

    def form_values(
        self, view_id: str, answers: Mapping[str, Answer]
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """``view.state.values`` of the view filled in with ``answers`` (by action or block id).

        Inputs not answered keep their initial values; ValueError for an answer no input
        takes or an option a select lacks.
        """
        return payloads.state_values(self._view(view_id).view.get("blocks", []), answers)

    def view_submission_payload(
        self, user: str, view_id: str, values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The submission of the view the app opened as ``view_id`` (its callback id, private
        metadata and hash as last shown), with ``values`` as Slack's ``view.state.values``."""
        return payloads.view_submission_payload(
            self.team,
            user=user,
            view=self._view(view_id).view,
            values=values,
            trigger_id=self.mint_trigger(user),
        )

    def view_submission_request(
        self, user: str, view_id: str, values: Mapping[str, Any]
    ) -> SignedRequest:
        """The signed HTTP request of ``view_submission_payload`` (see there)."""
        payload = self.view_submission_payload(user, view_id, values)
        return self.signed(payloads.interactive_body(payload))

    def _view(self, view_id: str) -> FakeView:
        with self._world.lock:
            found = self._world.views.get(view_id)
            if found is None:
                raise KeyError(f"the app opened no view {view_id}; it has {sorted(self.views)}")
            return found

    async def post(
        self,
        http: httpx.AsyncClient,
        request: SignedRequest,
        *,
        path: str = "/slack/events",
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> httpx.Response:
        """POSTs a built request to the app as Slack does (a retry when ``retry_num`` is set)."""
        body, headers = request
        sent = dict(headers)
        if retry_num is not None:
            sent["X-Slack-Retry-Num"] = str(retry_num)
            sent["X-Slack-Retry-Reason"] = retry_reason
        return await http.post(path, content=body, headers=sent)

    # -- Socket Mode -------------------------------------------------------------------

    @property
    def connections_opened(self) -> int:
        """Socket Mode connections opened so far (each reconnect counts)."""
        return self._hub.connections_opened

    @property
    def open_sockets(self) -> int:
        """Socket Mode connections open and not silenced now."""
        return self._hub.open_sockets

    async def socket_send(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        envelope_id: str | None = None,
        timeout_s: float = 5,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict[str, Any]:
        """Sends an envelope (slash_commands, interactive, events_api) and returns its ack.

        The envelope goes to one open socket (they take turns); this waits up to
        ``timeout_s`` for a socket and for the ack. TimeoutError when either does not
        come; ConnectionError when the socket closes first. Resending the same
        ``envelope_id`` with ``retry_attempt`` set is how Slack redelivers.
        """
        sent = envelope(
            kind,
            dict(payload),
            envelope_id=envelope_id or f"envelope-{self._world.next('envelope'):04d}",
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        return await asyncio.wrap_future(
            self._servers.submit(self._hub.send(sent, timeout_s=timeout_s))
        )

    def drop_sockets(self) -> None:
        """Cuts every Socket Mode connection at once, without a close handshake."""
        self._servers.call(self._hub.drop)

    def silence_sockets(self) -> None:
        """Every open connection goes quiet (pings unanswered): clients must notice, reconnect."""
        self._servers.call(self._hub.silence)

    def disconnect_sockets(self, reason: str = "refresh_requested") -> None:
        """Sends ``{"type": "disconnect"}`` on every connection, as Slack does before a restart."""
        self._servers.submit(self._hub.disconnect(reason)).result(timeout=START_TIMEOUT_S)
