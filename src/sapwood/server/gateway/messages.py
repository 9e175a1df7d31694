"""Requests and responses as the gateway sees them, and its own JSON answers.

Plain objects with no I/O: the connection (``front.py``) fills in a ``Request`` as it
parses, the gateway (``proxy.py``) turns it into a ``Response``, and the connection writes
that back. Header names are lower case throughout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING

from sapwood.server.gateway.routing import Route

if TYPE_CHECKING:
    from sapwood.server.gateway.upstream import UpstreamResponse

Headers = list[tuple[bytes, bytes]]

# Hop-by-hop headers (RFC 9110 §7.6.1) and those the gateway sets itself.
DROP_REQUEST = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length", b"expect",
        b"authorization", b"x-forwarded-for", b"x-sapwood-gateway-key",
    }
)  # fmt: skip
DROP_RESPONSE = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"transfer-encoding", b"upgrade", b"content-length",
    }
)  # fmt: skip
BODYLESS = frozenset({b"GET", b"HEAD", b"DELETE", b"OPTIONS"})
STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}


def status_line(status: int) -> bytes:
    return STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status


class HttpError(Exception):
    """An answer the gateway gives itself, as a JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


class RequestBody:
    """A request's body as it arrives; the connection feeds it, the gateway reads it.

    ``limit`` is unknown until the gateway has found the route, so the body is read with
    it: past it, ``read`` raises 413 and the rest of the body is discarded as it comes.
    """

    __slots__ = ("_waiter", "_wanted", "complete", "discard", "limit", "lost", "parts", "size")

    def __init__(self, wanted: Callable[[], None] | None = None) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.complete = False
        self.limit: int | None = None
        self.lost = False  # the client went away before the end
        self.discard = False  # nobody will read the rest
        self._waiter: asyncio.Future[None] | None = None
        self._wanted = wanted  # told when the gateway first waits for more

    @classmethod
    def whole(cls, data: bytes) -> RequestBody:
        """A body that is all there (for tests and the gateway's own copies)."""
        body = cls()
        body.feed(data)
        body.end()
        return body

    def feed(self, data: bytes) -> None:
        if self.discard:
            return
        self.size += len(data)
        limit = self.limit
        if limit is not None and self.size > limit:
            self.discard = True
            self.parts.clear()
            self._wake()
            return
        self.parts.append(data)
        if self._waiter is not None:
            self._wake()

    def end(self) -> None:
        self.complete = True
        self._wake()

    def disconnected(self) -> None:
        if not self.complete:
            self.lost = True
            self._wake()

    async def read(self, limit: int) -> bytes:
        """The whole body; 413 past ``limit`` bytes, however it was sent."""
        if self.size > limit:
            self.discard = True
            raise too_large(limit)
        self.limit = limit
        while not self.complete:
            if self.lost:
                raise HttpError(400, "invalid", "the client went away while sending the body")
            if self._wanted is not None:
                wanted, self._wanted = self._wanted, None
                wanted()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            if self.size > limit:
                self.discard = True
                raise too_large(limit)
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Request:
    """One parsed request: method, target, headers (names lower case), client, body."""

    __slots__ = ("body", "client", "headers", "method", "path", "query", "scheme")

    def __init__(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        *,
        client: str = "unknown",
        body: RequestBody | None = None,
        scheme: bytes = b"http",
    ) -> None:
        self.method = method
        path, _, self.query = target.partition(b"?")
        self.path = path
        self.headers = headers
        self.client = client
        self.body = body if body is not None else RequestBody.whole(b"")
        self.scheme = scheme


class Response:
    """What goes back to the client.

    Either ``body`` (whole; Content-Length is added) or ``stream`` (an upstream response
    still arriving; ``headers`` then carry its Content-Length if it had one, else the
    connection frames it). With ``bodyless`` (answers to HEAD, 204, 304) the headers are
    sent as they are and nothing follows. ``after`` runs once the response is written or
    abandoned: the gateway's bookkeeping.
    """

    __slots__ = ("after", "body", "bodyless", "headers", "status", "stream")

    def __init__(
        self,
        status: int,
        headers: Headers,
        body: bytes = b"",
        *,
        stream: UpstreamResponse | None = None,
        bodyless: bool = False,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
        self.bodyless = bodyless
        self.after = after


def request_head(
    request: Request, rest: bytes, route: Route, xff: bytes, request_id: bytes | None, length: int
) -> bytes:
    """The request line and headers, ending with ``Host: `` for the endpoint to complete."""
    method = request.method
    query = request.query
    lines = [method, b" ", rest, b"?" if query else b"", query, b" HTTP/1.1\r\n"]
    add = lines.append
    original_host = b""
    drop = DROP_REQUEST
    for name, value in request.headers:
        if name in drop:
            if name == b"host":
                original_host = value
            continue
        add(name)
        add(b": ")
        add(value)
        add(b"\r\n")
    add(b"x-forwarded-for: %s\r\nx-forwarded-proto: %s\r\n" % (xff, request.scheme))
    add(b"x-forwarded-prefix: /s/%s/%s\r\n" % (route.team.encode(), route.service.encode()))
    if original_host:
        add(b"x-forwarded-host: %s\r\n" % original_host)
    if request_id is None:
        add(b"x-request-id: %s\r\n" % new_request_id())
    if length or method not in BODYLESS:
        add(b"content-length: %d\r\n" % length)
    add(b"host: ")
    return b"".join(lines)


_ID_PREFIX = os.urandom(8).hex().encode()
_ids = itertools.count(1)


def new_request_id() -> bytes:
    """A request id unique to this process (a random prefix and a counter): 24 hex digits."""
    return b"%s%08x" % (_ID_PREFIX, next(_ids) & 0xFFFFFFFF)


def not_found(team: str, name: str) -> HttpError:
    return HttpError(404, "not_found", f"service {name} not found in team {team}")


def too_large(limit: int) -> HttpError:
    return HttpError(
        413, "too_large", f"the request body is over gateway.maxRequestBytes ({limit} bytes)"
    )


def error_response(error: HttpError) -> Response:
    payload = {"error": {"code": error.code, "message": error.message}}
    return json_response(error.status, payload, headers=error.headers)


def json_response(
    status: int, payload: object, *, headers: Sequence[tuple[bytes, bytes]] = ()
) -> Response:
    data = json.dumps(payload).encode()
    return Response(status, [(b"content-type", b"application/json"), *headers], data)
