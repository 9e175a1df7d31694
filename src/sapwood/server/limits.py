"""An ASGI middleware that refuses request bodies past a size (413), streamed or not."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What the user can do about a 413: send less at once, or have the limit raised.
RAISE_LIMIT = "or ask the operator to raise the server's SAPWOOD_MAX_BODY_BYTES"
DEFAULT_HINT = f"send less in one request (apply fewer objects at once), {RAISE_LIMIT}"
FEED_RECORDS = re.compile(r"/api/v1/feeds/[^/]+/records/?")
FEED_HINT = (
    "push the file with `sapwood feed push FEED FILE`, which splits it under the limit "
    f"by itself, or post fewer records at once; {RAISE_LIMIT}"
)


def default_hint(path: str) -> str:
    """The remedy for a body over the server-wide limit on ``path``."""
    return FEED_HINT if FEED_RECORDS.fullmatch(path) else DEFAULT_HINT


@dataclass(frozen=True)
class RouteLimit:
    """A limit of its own for the paths ``pattern`` matches (model uploads), with its hint."""

    pattern: re.Pattern[str]
    max_bytes: int
    hint: str


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, routes: Sequence[RouteLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = next((r for r in self.routes if r.pattern.fullmatch(path)), None)
        max_bytes = route.max_bytes if route else self.max_bytes
        hint = route.hint if route else default_hint(path)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes, hint)
            return
        seen = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                # The app sees a truncated body and answers with an error that is dropped
                # below: frameworks turn exceptions raised here into their own 400s.
                too_large = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(send, max_bytes, hint)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Send, max_bytes: int, hint: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "too_large",
                    "message": f"request body is larger than {max_bytes} bytes",
                    "details": [],
                    "hint": hint,
                }
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
