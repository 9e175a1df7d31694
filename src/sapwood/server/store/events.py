"""Writing events: a repeat of an object's latest event folds into it, as Kubernetes does.

An event identical to the latest one of the same object (same type, reason and message)
and no older than ``FOLD_WINDOW`` adds one to that row's ``count`` and moves its
``last_seen_at``; anything else is a new row. A controller that says the same thing every
pass (an autoscaler that cannot scale, a replica that keeps failing its probe) so leaves
one line "x127 over 25s" instead of 127 rows, and the notifier, which follows new rows,
posts it once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Table, func, insert, select

from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import EventRow

FOLD_WINDOW = timedelta(minutes=10)
_CHUNK = 500  # uids per IN (...)


@dataclass(frozen=True)
class EventFields:
    """What an event says about one object."""

    uid: str
    kind: str
    team: str
    name: str
    type: str
    reason: str
    message: str


class _Latest(Protocol):
    """An event row, written or about to be."""

    @property
    def type(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def last_seen_at(self) -> datetime: ...


def folds(latest: _Latest | None, event: EventFields, *, now: datetime, window: timedelta) -> bool:
    """Whether ``event`` repeats ``latest`` (the object's newest event row): same type,
    reason and message, last seen no more than ``window`` before ``now``."""
    if latest is None:
        return False
    same = (latest.type, latest.reason, latest.message) == (
        event.type,
        event.reason,
        event.message,
    )
    return same and now - latest.last_seen_at <= window


async def add_event(
    session: AsyncSession,
    event: EventFields,
    *,
    now: datetime,
    window: timedelta = FOLD_WINDOW,
) -> EventRow:
    """Adds the event to the session's transaction, folded into the object's latest event
    when it repeats it; the caller commits. Returns the row written or updated."""
    latest = await session.scalar(
        select(EventRow).where(EventRow.uid == event.uid).order_by(EventRow.id.desc()).limit(1)
    )
    return _add(session, latest, event, now=now, window=window)


async def add_events(
    session: AsyncSession,
    events: Sequence[EventFields],
    *,
    now: datetime,
    window: timedelta = FOLD_WINDOW,
    new_uids: Collection[str] = (),
) -> None:
    """Adds many events at once, in order, each folded as ``add_event`` would: one query
    finds the latest event of every object named (none for ``new_uids``, objects created
    in this transaction), and the new rows go in with one multi-row INSERT."""
    wanted = sorted({e.uid for e in events} - set(new_uids))
    latest: dict[str, EventRow | _NewEvent] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        newest = select(func.max(EventRow.id)).where(EventRow.uid.in_(chunk)).group_by(EventRow.uid)
        for row in await session.scalars(select(EventRow).where(EventRow.id.in_(newest))):
            latest[row.uid] = row
    fresh: list[_NewEvent] = []
    for event in events:
        last = latest.get(event.uid)
        if last is not None and folds(last, event, now=now, window=window):
            last.count += 1
            last.last_seen_at = max(now, last.last_seen_at)
            continue
        latest[event.uid] = new = _NewEvent(event, now)
        fresh.append(new)
    events_table: Table = EventRow.__table__  # type: ignore[assignment]
    connection = await session.connection()  # Core: one multi-row INSERT per chunk
    for start in range(0, len(fresh), _CHUNK):
        rows = [new.values() for new in fresh[start : start + _CHUNK]]
        await connection.execute(insert(events_table), rows)


@dataclass
class _NewEvent:
    """An event row not written yet; a repeat later in the same batch folds into it."""

    fields: EventFields
    created_at: datetime
    count: int = 1
    last_seen_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.last_seen_at = self.created_at

    @property
    def type(self) -> str:
        return self.fields.type

    @property
    def reason(self) -> str:
        return self.fields.reason

    @property
    def message(self) -> str:
        return self.fields.message

    def values(self) -> dict[str, object]:
        e = self.fields
        return {
            "uid": e.uid,
            "kind": e.kind,
            "team": e.team,
            "name": e.name,
            "type": e.type,
            "reason": e.reason,
            "message": e.message,
            "created_at": self.created_at,
            "last_seen_at": self.last_seen_at,
            "count": self.count,
        }


def _add(
    session: AsyncSession,
    latest: EventRow | None,
    event: EventFields,
    *,
    now: datetime,
    window: timedelta,
) -> EventRow:
    if latest is not None and folds(latest, event, now=now, window=window):
        latest.count += 1
        latest.last_seen_at = max(now, latest.last_seen_at)
        return latest
    row = EventRow(
        uid=event.uid,
        kind=event.kind,
        team=event.team,
        name=event.name,
        type=event.type,
        reason=event.reason,
        message=event.message,
        created_at=now,
        last_seen_at=now,
        count=1,
    )
    session.add(row)
    return row
