"""Follow streams: a cap on how many one token holds open, and a response that gives its
place back when the stream ends or the client hangs up.

A stream holds no database session (routes authenticate through ``deps.StreamCtxDep``);
what it holds is a place in this process's count for its token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from sapwood.server.services.errors import TooManyRequestsError

# How long a refused client waits before trying again; streams end when their clients
# hang up, so there is no better estimate than "soon".
RETRY_AFTER_S = 5
ENV_VAR = "SAPWOOD_MAX_STREAMS_PER_TOKEN"


def refusal(open_now: int, cap: int) -> str | None:
    """Why one more stream is refused, or None when it may open."""
    if open_now < cap:
        return None
    return (
        f"too many open streams for this token: {open_now} are open and the cap is {cap} "
        f"({ENV_VAR})"
    )


@dataclass
class StreamSlot:
    """One open stream's place in its token's count; ``release`` is idempotent."""

    limiter: StreamLimiter
    key: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter.release(self.key)


@dataclass
class StreamLimiter:
    """Open streams per token in this process; one per app, never a module global."""

    cap: int
    _open: dict[str, int] = field(default_factory=dict)

    def open_count(self, key: str) -> int:
        return self._open.get(key, 0)

    def acquire(self, key: str) -> StreamSlot:
        """A place for one more stream of ``key``; TooManyRequestsError past the cap."""
        reason = refusal(self.open_count(key), self.cap)
        if reason is not None:
            raise TooManyRequestsError(
                reason,
                retry_after_s=RETRY_AFTER_S,
                hint="close a stream (a `sapwood logs -f` or a dashboard log tab) and retry",
            )
        self._open[key] = self.open_count(key) + 1
        return StreamSlot(self, key)

    def release(self, key: str) -> None:
        left = self.open_count(key) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)


class HeldStream(StreamingResponse):
    """A streaming response that holds ``slot`` until its body ends, fails, or the client
    hangs up, whichever comes first.

    It always listens for the client's disconnect: a follow stream may stay silent for
    hours, so waiting for a failed write to notice the hang-up would keep the slot forever.
    """

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        slot: StreamSlot,
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.slot = slot
        self._content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:  # the client went away mid-write
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            self.slot.release()
            aclose = getattr(self._content, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
