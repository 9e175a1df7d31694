"""Events: what happened to an object, in words, kept after the object is gone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from sapwood.schemas import EventPage, EventType
from sapwood.server.services.access import Caller, readable_teams, require_read
from sapwood.server.services.convert import row_to_event
from sapwood.server.services.paging import decode_continue, encode_continue
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.events import EventFields, add_event
from sapwood.server.store.tables import EventRow, ObjectRow


async def record_event(
    session: AsyncSession,
    obj: ObjectRow,
    reason: str,
    message: str,
    *,
    now: datetime,
    type: EventType = EventType.NORMAL,
) -> None:
    """Adds the event to the session's transaction, folded into the object's latest event
    when it repeats it (store/events.py); the caller commits."""
    fields = EventFields(obj.uid, obj.kind, obj.team, obj.name, type.value, reason, message)
    await add_event(session, fields, now=now)


async def list_events(
    session: AsyncSession,
    caller: Caller,
    *,
    team: str | None,
    kind: str | None = None,
    uid: str | None = None,
    limit: int,
    continue_: str | None = None,
) -> EventPage:
    """Newest ``limit`` events, oldest first; ``continue`` goes further back in time."""
    query = select(EventRow).order_by(EventRow.id.desc()).limit(limit + 1)
    if team is not None:
        require_read(caller, team, "events")
        query = query.where(EventRow.team == team)
    elif (visible := readable_teams(caller)) is not None:
        query = query.where(EventRow.team.in_(visible))
    if kind is not None:
        query = query.where(EventRow.kind == kind)
    if uid is not None:
        query = query.where(EventRow.uid == uid)
    before = decode_continue(continue_)
    if before:
        query = query.where(EventRow.id < before)
    rows = list(await session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    token = encode_continue(rows[-1].id) if more and rows else None
    return EventPage(items=[row_to_event(r) for r in reversed(rows)], continue_=token)
