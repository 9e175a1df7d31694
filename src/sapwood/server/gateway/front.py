"""The client side of the gateway: an asyncio protocol over httptools (one per connection).

This is the I/O seam and nothing more: bytes in, ``Request`` out to ``Gateway.handle``,
``Response`` back out as bytes. HTTP/1.1 with keep-alive and pipelining (answers go back
in order), chunked and streamed request bodies, ``Expect: 100-continue``, HEAD, and
responses streamed with flow control. No ASGI layer: one fewer copy of every header, and
one write per response.

Connections are bounded in time: one timer per connection closes it when it has been idle
for the server's ``keep_alive_s``, or answers 408 when a request head has taken longer than
its ``header_timeout_s``. The listening side is ``listener.GatewayServer``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, cast

import httptools

from sapwood.server.gateway.messages import (
    Headers,
    HttpError,
    Request,
    RequestBody,
    Response,
    error_response,
    status_line,
)
from sapwood.server.gateway.proxy import Gateway
from sapwood.server.gateway.tunnel import Tunnel
from sapwood.server.gateway.upstream import UpstreamError, UpstreamResponse

if TYPE_CHECKING:
    from sapwood.server.gateway.listener import GatewayServer

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024  # request line and headers together
MAX_QUEUED = 16  # pipelined requests parsed ahead of the one being answered
UNREAD_BODY_BYTES = 256 * 1024  # buffered before the gateway asks for it: then reading pauses
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def closing_answer(error: HttpError) -> bytes:
    """A whole JSON error response that ends the connection."""
    response = error_response(error)
    head = [status_line(response.status)]
    for name, value in response.headers:
        head += [name, b": ", value, b"\r\n"]
    head += [b"content-length: ", str(len(response.body)).encode(), b"\r\n"]
    head += [b"connection: close\r\n\r\n", response.body]
    return b"".join(head)


class _Exchange:
    """One request on a connection, from its first byte to its last response byte."""

    __slots__ = ("expect_continue", "head_only", "http10", "keep_alive", "request")

    def __init__(self, request: Request, *, keep_alive: bool, http10: bool) -> None:
        self.request = request
        self.keep_alive = keep_alive
        self.http10 = http10
        self.expect_continue = False
        self.head_only = request.method == b"HEAD"


class GatewayProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, gateway: Gateway, server: GatewayServer) -> None:
        self.gateway = gateway
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client = "unknown"
        self.closed = False
        # parsing
        self._url = b""
        self._headers: Headers = []
        self._head_bytes = 0
        self._expect_continue = False
        self._parsing: _Exchange | None = None
        # answering, in order
        self._current: _Exchange | None = None
        self._queue: deque[_Exchange] = deque()
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps tasks weakly
        self._reading_paused = False
        self._writable: asyncio.Future[None] | None = None
        self._write_paused = False
        # deadlines: one timer, armed when the connection becomes idle or a head comes slowly
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._idle_at = 0.0
        self._in_head = False  # a request head has begun and is not complete
        self._head_at: float | None = None  # when it began, if it took more than one read
        # a workspace's WebSocket: the request until admitted, then the tunnel
        self._upgrade: Request | None = None
        self._tunnel: Tunnel | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        if len(server.connections) >= server.max_connections:
            server.refuse_connection(self.transport)
            self.closed = True
            return
        peer = transport.get_extra_info("peername")
        if peer:
            self.client = str(peer[0])
        server.connections.add(self)
        self._became_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for exchange in (self._parsing, self._current, *self._queue):
            if exchange is not None:
                exchange.request.body.disconnected()
        if self._tunnel is not None:
            self._tunnel.close()
        self._queue.clear()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._tunnel is not None:
            self._tunnel.from_client(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            request, self._upgrade = self._upgrade, None
            if request is None or self._current is not None or self._queue:
                message = "upgrades (WebSocket, h2c) are supported for workspaces (/w/…) only"
                self._refuse(HttpError(501, "invalid", message))
            else:
                self._start_tunnel(request, data[upgrade.args[0] :])
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if not isinstance(cause, HttpError):
                raise
            self._refuse(cause)
        except httptools.HttpParserError as exc:
            self._refuse(HttpError(400, "invalid", f"malformed request: {exc}"))
        else:
            if self._in_head and self._head_at is None and not self.closed:
                # A head split over reads (rare: heads come whole): time it from now.
                self._head_at = now = self.loop.time()
                self._arm(now + self.server.header_timeout_s)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._tunnel is not None:
            self._tunnel.drained()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._in_head = True
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HttpError(431, "invalid", "the request line and headers are too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HttpError(431, "invalid", "the request line and headers are too long")
        name = name.lower()
        self._headers.append((name, value))
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True

    def on_headers_complete(self) -> None:
        parser = self.parser
        self._in_head = False
        self._head_at = None
        upgrade = parser.should_upgrade()
        if upgrade and not self.gateway.tunnels(self._url):
            raise HttpError(
                501, "invalid", "upgrades (WebSocket, h2c) are supported for workspaces (/w/…) only"
            )
        method = parser.get_method()
        http10 = parser.get_http_version() == "1.0"
        body = RequestBody(self._want_body)
        request = Request(method, self._url, self._headers, client=self.client, body=body)
        if upgrade:  # answered once the parser hands over the connection (data_received)
            self._upgrade = request
            return
        exchange = _Exchange(request, keep_alive=parser.should_keep_alive(), http10=http10)
        exchange.expect_continue = self._expect_continue
        self._parsing = exchange
        if self._current is None:
            self._begin(exchange)
        else:
            self._queue.append(exchange)
            if len(self._queue) >= MAX_QUEUED:
                self._pause_reading()

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        if exchange is None:
            return
        request_body = exchange.request.body
        request_body.feed(body)
        if (
            request_body.limit is None
            and request_body.size > UNREAD_BODY_BYTES
            and not request_body.discard
        ):
            self._pause_reading()  # resumed when the gateway reads it (``_want_body``)

    def on_message_complete(self) -> None:
        exchange, self._parsing = self._parsing, None
        if exchange is not None:
            exchange.request.body.end()

    # answering
    def _begin(self, exchange: _Exchange) -> None:
        self._current = exchange
        self._task = self.loop.create_task(self._answer(exchange))

    async def _answer(self, exchange: _Exchange) -> None:
        try:
            response = await self.gateway.handle(exchange.request)
        except Exception:
            log.exception("the gateway failed on a request")
            response = error_response(HttpError(500, "internal", "the gateway failed"))
        try:
            await self._write(exchange, response)
        except Exception:
            log.exception("the gateway failed writing a response")
            self.close()
        finally:
            if response.after is not None:
                response.after()
        self._finished(exchange)

    async def _write(self, exchange: _Exchange, response: Response) -> None:
        transport = self.transport
        if transport is None or self.closed:
            if response.stream is not None:
                response.stream.abort()
            return
        body = exchange.request.body
        if not body.complete and not body.discard:
            # Answered before the whole body came (413, 401, …): skip the rest as it
            # arrives, or close if the client is waiting for a 100 Continue it never got.
            body.discard = True
            body.parts.clear()
            if exchange.expect_continue and body.size == 0:
                exchange.keep_alive = False
            self._resume_reading()
        if self.server.stopping:
            exchange.keep_alive = False
        head = [status_line(response.status)]
        for name, value in response.headers:
            head += [name, b": ", value, b"\r\n"]
        stream = response.stream
        if stream is None:
            if not response.bodyless:
                head += [b"content-length: ", str(len(response.body)).encode(), b"\r\n"]
            if not exchange.keep_alive:
                head.append(b"connection: close\r\n")
            elif exchange.http10:
                head.append(b"connection: keep-alive\r\n")
            head.append(b"\r\n")
            if not (response.bodyless or exchange.head_only):
                head.append(response.body)
            transport.write(b"".join(head))
            return
        await self._write_stream(exchange, head, stream, transport)

    async def _write_stream(
        self,
        exchange: _Exchange,
        head: list[bytes],
        stream: UpstreamResponse,
        transport: asyncio.Transport,
    ) -> None:
        has_length = stream.has_length
        chunked = not has_length and not exchange.http10
        if not has_length and exchange.http10:
            exchange.keep_alive = False  # the body ends when the connection does
        if chunked:
            head.append(b"transfer-encoding: chunked\r\n")
        if not exchange.keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        transport.write(b"".join(head))
        try:
            while (chunk := await stream.read()) is not None:
                if self.closed:
                    return
                if chunked:
                    if chunk:
                        transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                else:
                    transport.write(chunk)
                if self._write_paused:
                    await self._drained()
                    if self.closed:
                        return
            if chunked:
                transport.write(b"0\r\n\r\n")
        except UpstreamError as exc:
            # The status is sent already: all that is left is to cut the response short.
            log.warning("response body cut short: %s", exc)
            exchange.keep_alive = False
        finally:
            stream.abort()

    async def _drained(self) -> None:
        while self._write_paused and not self.closed:
            self._writable = self.loop.create_future()
            try:
                await self._writable
            finally:
                self._writable = None

    def _finished(self, exchange: _Exchange) -> None:
        self._current = None
        self._task = None
        if not exchange.keep_alive or self.closed:
            self.close()
            return
        if self._queue:
            self._begin(self._queue.popleft())
        if len(self._queue) < MAX_QUEUED:
            self._resume_reading()
        if self._current is None:
            if self.server.stopping:
                self.close()
            else:
                self._became_idle()

    # WebSocket upgrades (workspaces)
    def _start_tunnel(self, request: Request, leftover: bytes) -> None:
        """Admits the caller, then joins this connection to the replica; no more HTTP is
        parsed on it. Busy from here on: the idle timer leaves it be."""
        self._pause_reading()
        exchange = _Exchange(request, keep_alive=False, http10=False)
        self._current = exchange
        self._task = self.loop.create_task(self._tunnel_to(exchange, leftover))

    async def _tunnel_to(self, exchange: _Exchange, leftover: bytes) -> None:
        transport = self.transport
        workspaces = self.gateway.workspaces
        if transport is None or workspaces is None:
            self.close()
            return
        try:
            endpoint, head = await workspaces.open_tunnel(exchange.request)
            tunnel = self._tunnel = Tunnel(transport)
            await tunnel.connect(endpoint, head + leftover)
        except HttpError as exc:
            if not self.closed:
                transport.write(closing_answer(exc))
            self.close()
            return
        except (OSError, TimeoutError) as exc:
            if not self.closed:
                error = HttpError(502, "bad_gateway", f"the workspace did not answer: {exc}")
                transport.write(closing_answer(error))
            self.close()
            return
        self._resume_reading()

    # deadlines
    def _became_idle(self) -> None:
        """Nothing is being answered: the connection may wait ``keep_alive_s`` for more."""
        self._idle_at = now = self.loop.time()
        if self._in_head and self._head_at is not None:
            self._arm(self._head_at + self.server.header_timeout_s)
        else:
            self._arm(now + self.server.keep_alive_s)

    def _arm(self, due: float) -> None:
        # One timer per connection: one already due sooner runs first and moves itself on
        # (``_check``), so a busy keep-alive connection makes a new timer only every
        # ``keep_alive_s`` or so, not one per request.
        timer = self._timer
        if timer is not None:
            if self._timer_at <= due:
                return
            timer.cancel()
        self._timer_at = due
        self._timer = self.loop.call_at(due, self._check)

    def _check(self) -> None:
        self._timer = None
        if self.closed or self._current is not None:
            return  # a request in flight: armed again once it is answered
        server = self.server
        now = self.loop.time()
        if self._in_head:
            due = (self._head_at if self._head_at is not None else now) + server.header_timeout_s
            if now >= due:
                message = f"the request head did not arrive within {server.header_timeout_s:g} s"
                self._refuse(HttpError(408, "request_timeout", message))
                return
        else:
            due = self._idle_at + server.keep_alive_s
            if now >= due:
                self.close()
                return
        self._arm(due)

    def _want_body(self) -> None:
        """The gateway waits for more of the current body."""
        exchange = self._current
        if exchange is not None and exchange.expect_continue and self.transport is not None:
            exchange.expect_continue = False
            if not self.closed:
                self.transport.write(CONTINUE)
        self._resume_reading()

    def _refuse(self, error: HttpError) -> None:
        """A request that cannot be parsed: answer (if nothing else is being) and close."""
        self._pause_reading()
        if self._current is None and self.transport is not None and not self.closed:
            self.transport.write(closing_answer(error))
        self.close()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    @property
    def idle(self) -> bool:
        return self._current is None

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()
