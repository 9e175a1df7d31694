"""The fake Slack's Socket Mode endpoint: a WebSocket server that sends envelopes and reads acks.

A client connects to the URL apps.connections.open returned (``/socket?ticket=...``; an
unknown ticket is refused with 401), gets ``{"type": "hello"}``, then envelopes; it acks
one by sending ``{"envelope_id": ..., "payload"?: ...}``. It is a plain ``websockets``
server (not uvicorn's) because the fake must be able to cut a connection without a close
handshake (``transport.abort()``) and to make one go quiet (stop reading, so pings go
unanswered), which is what a dropped or half-dead network connection looks like.

Everything here runs on the fake's own event loop; ``FakeSlack`` reaches it thread-safely.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

_log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Socket:
    connection: ServerConnection
    number: int
    silenced: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class SocketHub:
    """The open Socket Mode connections, the envelopes sent on them and the acks awaited."""

    def __init__(self, *, ticket_ok: Callable[[str], bool], app_id: str) -> None:
        self._ticket_ok = ticket_ok
        self._app_id = app_id
        self._server: Server | None = None
        self._sockets: list[_Socket] = []
        self._acks: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._opened = asyncio.Event()
        self._turn = 0
        self.connections_opened = 0

    @property
    def open_sockets(self) -> int:
        """Connections that would take an envelope now (open and not silenced)."""
        return sum(1 for socket in self._sockets if not socket.silenced)

    async def start(self) -> int:
        """Listens on a free loopback port; returns the port."""
        self._server = await serve(
            self._serve,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            # The fake never pings: a test decides when a connection goes quiet.
            ping_interval=None,
            close_timeout=1,
            logger=_log,
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        tickets = parse_qs(url.query).get("ticket", [])
        if url.path != "/socket":
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        if len(tickets) != 1 or not self._ticket_ok(tickets[0]):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        self.connections_opened += 1
        socket = _Socket(connection=connection, number=self.connections_opened)
        self._sockets.append(socket)
        try:
            await connection.send(json.dumps(self._hello()))
            self._opened.set()
            async for raw in connection:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            self._sockets.remove(socket)
            socket.closed.set()

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": "fake-slack", "build_number": 1},
            "connection_info": {"app_id": self._app_id},
        }

    def _receive(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            _log.warning("the fake Slack got a Socket Mode message that is not JSON")
            return
        waiting = self._acks.get(str(message.get("envelope_id")), [])
        while waiting:
            ack = waiting.pop(0)
            if not ack.done():
                ack.set_result(message)
                return

    async def _next_socket(self, deadline: float) -> _Socket:
        """The next live socket, taking turns (as Slack spreads envelopes over connections)."""
        loop = asyncio.get_running_loop()
        while True:
            live = [socket for socket in self._sockets if not socket.silenced]
            if live:
                self._turn += 1
                return live[self._turn % len(live)]
            self._opened.clear()
            try:
                await asyncio.wait_for(self._opened.wait(), max(deadline - loop.time(), 0))
            except TimeoutError:
                raise TimeoutError("no Socket Mode connection is open") from None

    async def send(
        self,
        envelope: dict[str, Any],
        *,
        timeout_s: float,
    ) -> dict[str, Any]:
        """Sends an envelope on one live socket and returns the client's ack.

        Waits up to ``timeout_s`` for a socket to open and then for the ack: TimeoutError
        when either does not come; ConnectionError when the socket closes before the ack.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        socket = await self._next_socket(deadline)
        envelope_id = str(envelope["envelope_id"])
        ack: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._acks.setdefault(envelope_id, []).append(ack)
        closed: asyncio.Future[Any] = asyncio.ensure_future(socket.closed.wait())
        watched: set[asyncio.Future[Any]] = {ack, closed}
        try:
            await socket.connection.send(json.dumps(envelope))
            done, _ = await asyncio.wait(
                watched,
                timeout=max(deadline - loop.time(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
        except ConnectionClosed:
            done = {closed}
        finally:
            closed.cancel()
            waiting = self._acks.get(envelope_id, [])
            if ack in waiting:
                waiting.remove(ack)
            if not waiting:
                self._acks.pop(envelope_id, None)
        if ack in done:
            return ack.result()
        ack.cancel()
        if closed in done or socket.closed.is_set():
            raise ConnectionError(f"the socket closed before envelope {envelope_id} was acked")
        raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout_s} s")

    def drop(self) -> None:
        """Cuts every connection without a close handshake, as a network failure does."""
        for socket in list(self._sockets):
            socket.connection.transport.abort()

    def silence(self) -> None:
        """Every open connection goes quiet: nothing read (pings unanswered), nothing sent."""
        for socket in self._sockets:
            socket.silenced = True
            socket.connection.transport.pause_reading()

    async def disconnect(self, reason: str) -> None:
        """Asks every client to reconnect (``{"type": "disconnect"}``), as Slack does."""
        for socket in list(self._sockets):
            try:
                await socket.connection.send(json.dumps({"type": "disconnect", "reason": reason}))
            except ConnectionClosed:
                pass


def envelope(
    kind: str,
    payload: dict[str, Any],
    *,
    envelope_id: str,
    retry_attempt: int,
    retry_reason: str,
) -> dict[str, Any]:
    """A Socket Mode envelope of ``kind`` (slash_commands, interactive, events_api)."""
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": retry_attempt,
        "retry_reason": retry_reason,
    }
