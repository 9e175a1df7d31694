"""HTTP plumbing for the gateway's ASGI app: headers, bodies and its own JSON answers."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from sapwood.server.gateway.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

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
BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


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


def request_head(
    scope: Scope, rest: bytes, route: Route, xff: bytes, request_id: bytes | None, length: int
) -> bytes:
    """The request line and headers, ending with ``Host: `` for the endpoint to complete."""
    target = rest
    query: bytes = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    method = scope["method"]
    lines = [method.encode(), b" ", target, b" HTTP/1.1\r\n"]
    original_host = b""
    drop = DROP_REQUEST
    for name, value in scope["headers"]:
        if name in drop:
            if name == b"host":
                original_host = value
            continue
        lines += [name, b": ", value, b"\r\n"]
    lines += [b"x-forwarded-for: ", xff, b"\r\n"]
    lines += [b"x-forwarded-proto: ", scope.get("scheme", "http").encode(), b"\r\n"]
    lines += [
        b"x-forwarded-prefix: /s/",
        route.team.encode(),
        b"/",
        route.service.encode(),
        b"\r\n",
    ]
    if original_host:
        lines += [b"x-forwarded-host: ", original_host, b"\r\n"]
    if request_id is None:
        lines += [b"x-request-id: ", os.urandom(12).hex().encode(), b"\r\n"]
    if length or method not in BODYLESS:
        lines += [b"content-length: ", str(length).encode(), b"\r\n"]
    lines.append(b"host: ")
    return b"".join(lines)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 past ``limit`` bytes, however it was sent."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise too_large(limit)
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "invalid", "the client went away while sending the body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


def client_host(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def not_found(team: str, name: str) -> HttpError:
    return HttpError(404, "not_found", f"service {name} not found in team {team}")


def too_large(limit: int) -> HttpError:
    return HttpError(
        413, "too_large", f"the request body is over gateway.maxRequestBytes ({limit} bytes)"
    )


async def send_error(send: Send, error: HttpError) -> None:
    await send_json(
        send,
        error.status,
        {"error": {"code": error.code, "message": error.message}},
        headers=error.headers,
    )


async def send_json(
    send: Send, status: int, payload: object, *, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    data = json.dumps(payload).encode()
    all_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": data})
