"""A small HTTP/1.1 client for replicas: pooled keep-alive connections, httptools parsing.

Responses with Content-Length, chunked encoding or read-until-close are understood. A small
body with a Content-Length is handed over whole; any other is handed over as it arrives
(``UpstreamResponse.read``), so streamed answers stream.
"""

from __future__ import annotations

import asyncio
from typing import cast

import httptools

MAX_BUFFERED_BYTES = 1024 * 1024  # past this the connection stops reading until drained
WHOLE_BELOW_BYTES = 256 * 1024  # a response with a Content-Length under this is handed over whole


class UpstreamError(Exception):
    """The replica could not be used for this request."""


class ConnectError(UpstreamError):
    """No connection could be made: the request never left, so another replica may try."""


class UpstreamClosedError(UpstreamError):
    """The connection ended before a whole response arrived: the replica may have received
    (and acted on) the request, so only an idempotent one may be sent again."""

    def __init__(self, message: str, *, got_bytes: bool) -> None:
        super().__init__(message)
        self.got_bytes = got_bytes


class UpstreamTimeoutError(UpstreamError):
    """The replica sent nothing for ``timeout_s``."""


class UpstreamResponse:
    """Status and headers (names in lower case) at once; the body through ``read`` as it
    arrives."""

    __slots__ = (
        "_connection",
        "_waiter",
        "buffered",
        "chunked",
        "chunks",
        "done",
        "error",
        "has_length",
        "headers",
        "length",
        "status",
    )  # fmt: skip

    def __init__(self, connection: _Connection) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.done = False
        self.chunked = False
        self.has_length = False
        self.length = 0
        self.error: UpstreamError | None = None
        self._connection = connection
        self._waiter: asyncio.Future[None] | None = None

    async def read(self) -> bytes | None:
        """The body bytes that arrived since the last call; None once the body has ended."""
        while True:
            if self.chunks:
                data = b"".join(self.chunks)
                self.chunks.clear()
                self.buffered = 0
                self._connection.resume()
                return data
            if self.error is not None:
                raise self.error
            if self.done:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def abort(self) -> None:
        """Gives up on the rest of the body: the connection is closed, not reused."""
        if not self.done:
            self._connection.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool, endpoint: str) -> None:
        self.pool = pool
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.parser = httptools.HttpResponseParser(self)
        self.response: UpstreamResponse | None = None
        self.head: asyncio.Future[UpstreamResponse] | None = None
        self.head_only = False
        self.got_bytes = False
        self.paused = False
        self.timeout_s = 0.0
        self.active_at = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.informational = False
        self.swap_parser = False
        self.loop = asyncio.get_running_loop()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        self.active_at = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(
                UpstreamClosedError(f"bad response from {self.endpoint}: {exc}", got_bytes=True)
            )
            self.close()
            return
        if self.swap_parser:
            self.swap_parser = False
            self.parser = httptools.HttpResponseParser(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        response = self.response
        if response is None:
            return
        if self.head is None and not response.chunked and not response.has_length:
            self._complete(keep=False)  # a body that ends with the connection
        else:
            self._fail(
                UpstreamClosedError(
                    f"{self.endpoint} closed the connection", got_bytes=self.got_bytes
                )
            )

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        response = self.response
        if response is not None:
            name = name.lower()
            response.headers.append((name, value))
            if name == b"transfer-encoding":
                response.chunked = True
            elif name == b"content-length":
                response.has_length = True
                try:
                    response.length = int(value)
                except ValueError:
                    response.length = MAX_BUFFERED_BYTES

    def on_headers_complete(self) -> None:
        response = self.response
        if response is None:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue and the like: wait for the real answer
            response.headers.clear()
            response.chunked = response.has_length = False
            response.length = 0
            self.informational = True
            return
        response.status = status
        if self.head_only:  # no body follows, whatever the headers say
            self.swap_parser = True
            self._complete(keep=True)
            return
        if response.has_length and response.length < WHOLE_BELOW_BYTES and not response.chunked:
            return  # a small body: handed over whole (``_complete``), in one write to the client
        head, self.head = self.head, None
        if head is not None and not head.done():
            head.set_result(response)

    def on_body(self, body: bytes) -> None:
        response = self.response
        if response is None:
            return
        response.chunks.append(body)
        response.buffered += len(body)
        if response.buffered > MAX_BUFFERED_BYTES and not self.paused and self.transport:
            self.paused = True
            self.transport.pause_reading()
        response._wake()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.response is not None:
            self._complete(keep=self.parser.should_keep_alive())

    # used by the pool and the response
    def send(
        self, data: bytes, *, head_only: bool, timeout_s: float
    ) -> asyncio.Future[UpstreamResponse]:
        assert self.transport is not None
        self.response = UpstreamResponse(self)
        self.head = self.loop.create_future()
        self.head_only = head_only
        self.got_bytes = False
        self.timeout_s = timeout_s
        self.active_at = now = self.loop.time()
        if self.timer is None:  # else the running one re-arms itself for this request
            self.timer = self.loop.call_at(now + timeout_s, self._check_idle)
        self.transport.write(data)
        return self.head

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _check_idle(self) -> None:
        # One timer per busy connection, not one per request: it runs at the earliest the
        # request could time out, and moves itself on while bytes keep coming.
        self.timer = None
        due = self.active_at + self.timeout_s
        if self.response is None:
            return
        if self.loop.time() < due:
            self.timer = self.loop.call_at(due, self._check_idle)
            return
        self._fail(UpstreamTimeoutError(f"{self.endpoint} sent nothing for {self.timeout_s:g} s"))
        self.close()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _complete(self, *, keep: bool) -> None:
        response, self.response = self.response, None
        if response is not None:
            response.done = True
            response._wake()
            head, self.head = self.head, None
            if head is not None and not head.done():
                head.set_result(response)
        if keep and not self.closed:
            self.pool.release(self)
        else:
            self.close()

    def _fail(self, error: UpstreamError) -> None:
        response, self.response = self.response, None
        self._cancel_timer()
        head, self.head = self.head, None
        if head is not None and not head.done():
            head.set_exception(error)
        if response is not None:
            response.error = error
            response._wake()


class UpstreamPool:
    """Keep-alive connections per endpoint ("host:port"), most recently used first."""

    def __init__(self, *, connect_timeout_s: float = 5.0, max_idle_per_endpoint: int = 512) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle_per_endpoint
        self.opened = 0
        self._idle: dict[str, list[_Connection]] = {}

    async def request(
        self,
        endpoint: str,
        data: bytes,
        *,
        head_only: bool = False,
        idempotent: bool,
        timeout_s: float,
    ) -> UpstreamResponse:
        """Sends one whole request (head and body) and returns once the response head is in.

        A body with a Content-Length under ``WHOLE_BELOW_BYTES`` is waited for too, so that
        it goes back to the client whole, in one write, however the replica wrote it.

        ConnectError when no connection could be made (nothing was sent); UpstreamClosedError
        or UpstreamTimeoutError after the request was written. An ``idempotent`` request on a
        pooled connection that turns out to be closed is sent again once on a fresh one. Any
        other is not: a closed keep-alive connection looks the same whether the replica
        closed it before the request came or after reading (and acting on) it.
        """
        connection = self._pooled(endpoint)
        if connection is not None:
            try:
                return await connection.send(data, head_only=head_only, timeout_s=timeout_s)
            except UpstreamClosedError as exc:
                if exc.got_bytes or not idempotent:
                    raise
        connection = await self._connect(endpoint)
        return await connection.send(data, head_only=head_only, timeout_s=timeout_s)

    def release(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.endpoint, [])
        if len(idle) >= self.max_idle:
            connection.close()
        else:
            idle.append(connection)

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

    def _pooled(self, endpoint: str) -> _Connection | None:
        idle = self._idle.get(endpoint)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, endpoint: str) -> _Connection:
        host, _, port = endpoint.rpartition(":")
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self, endpoint), host, int(port)),
                self.connect_timeout_s,
            )
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectError(f"cannot connect to {endpoint}: {exc}") from exc
        self.opened += 1
        return connection
