"""Reading a replica's logs: authorised here, streamed through the runtime's read port
(the controller on the leader, a read-only runtime on a follower)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sapwood.server.controller.port import ReadPort
from sapwood.server.services.access import Caller
from sapwood.server.services.errors import InvalidError, UnavailableError
from sapwood.server.services.objects import find_object
from sapwood.server.store.engine import AsyncSession


async def open_logs(
    session: AsyncSession,
    caller: Caller,
    reads: ReadPort | None,
    kind: str,
    name: str,
    *,
    team: str | None,
    replica: int,
    follow: bool,
    previous: bool,
) -> AsyncIterator[bytes]:
    """The chunks of one replica's log; checks access before the first byte."""
    row = await find_object(session, caller, kind, name, team=team)
    if reads is None:
        raise UnavailableError("this server runs no controller, so there are no logs")
    if replica < 0 or replica > 1023:
        raise InvalidError(f"replica must be between 0 and 1023, got {replica}")
    return reads.logs(kind, row.team, row.name, replica=replica, follow=follow, previous=previous)
