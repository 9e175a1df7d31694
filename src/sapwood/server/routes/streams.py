"""Follow streams: a response that gives its place in the token's count back when the
stream ends or the client hangs up (the count itself is services/streams.py).

A stream holds no database session (routes authenticate through ``deps.StreamCtxDep``);
what it holds is a place in this process's count for its token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from sapwood.server.services.streams import StreamSlot


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
