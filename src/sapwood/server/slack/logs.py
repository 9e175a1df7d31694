"""``/sapwood logs KIND NAME`` and a notification's Logs button: the end of replica 0's log.

Read through services.logs.open_logs as the caller (so access is the API's), without
following, keeping only the last FILE_BYTES in memory however long the log is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from sapwood.server.services.access import Caller
from sapwood.server.services.errors import ServiceError
from sapwood.server.services.logs import open_logs
from sapwood.server.services.objects import find_object
from sapwood.server.slack import report_blocks
from sapwood.server.slack.message import Message
from sapwood.server.state import AppState

log = logging.getLogger("sapwood.slack")
FILE_BYTES = 1024 * 1024  # the end of a long log, posted as a file
READ_TIMEOUT_S = 10.0  # a runtime that does not end the log by then: show what came
MAX_LINES = 1000


async def log_tail(
    state: AppState, caller: Caller, kind: str, name: str, *, team: str | None, lines: int = 40
) -> Message:
    """The last ``lines`` lines of replica 0's log in a code block, or the log's last
    FILE_BYTES as ``Message.file`` when they do not fit; a refusal (not found, no
    controller) or a runtime that failed to answer is the message's text."""
    lines = max(1, min(lines, MAX_LINES))
    ref = f"{kind.lower()}/{name}"
    try:
        async with state.sessions() as session:
            row = await find_object(session, caller, kind, name, team=team)
            team = row.team
            chunks = await open_logs(
                session,
                caller,
                state.reads,
                kind,
                name,
                team=team,
                replica=0,
                follow=False,
                previous=False,
            )
    except ServiceError as exc:
        return report_blocks.error_message(exc.message)
    try:
        tail, cut = await read_tail(chunks, limit=FILE_BYTES, timeout_s=READ_TIMEOUT_S)
    except Exception as exc:  # the runtime's failure is the user's answer, not a crash
        log.warning("reading the log of %s in team %s failed", ref, team, exc_info=True)
        why = str(exc)[:200] or type(exc).__name__
        return report_blocks.error_message(f"Could not read the log of {ref} in team {team}: {why}")
    return report_blocks.log_message(
        kind, team, name, tail, lines=lines, cut=cut, file_bytes=FILE_BYTES
    )


async def read_tail(
    chunks: AsyncIterator[bytes], *, limit: int, timeout_s: float
) -> tuple[bytes, bool]:
    """The last ``limit`` bytes of the stream, and True when earlier bytes were dropped.
    A stream still open after ``timeout_s`` ends there (what came so far is kept)."""
    tail = bytearray()
    cut = False
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in chunks:
                tail += chunk
                if len(tail) > limit:
                    del tail[: len(tail) - limit]
                    cut = True
    except TimeoutError:
        log.warning("a log read did not end within %.0fs; showing what came", timeout_s)
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    return bytes(tail), cut
