"""Which objects changed: told by every writer, heard by the controller's cache.

A writer calls ``note_changed(session, uid)`` in the transaction that changes an object
row. When that transaction commits, the uids go to this process's ``ChangeFeed``
subscribers; when it rolls back, they are dropped. On PostgreSQL the same uids also go out
with ``pg_notify`` inside the transaction, so they reach the other server replicas exactly
when (and only if) the write commits: see ``changes_pg.PgChangeListener``.

A write that forgets to call ``note_changed`` is still seen, later: the controller's slow
resync compares every row's resourceVersion with its cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from sapwood.server.store.engine import AsyncSession

log = logging.getLogger("sapwood.store")

CHANNEL = "sapwood_objects"
_FEED = "sapwood_change_feed"  # session.info keys
_PENDING = "sapwood_changed_uids"
_MAX_PAYLOAD = 7000  # bytes per NOTIFY (PostgreSQL's limit is 8000)

Subscriber = Callable[[frozenset[str]], None]


class ChangeFeed:
    """Fans committed changes out to this process's subscribers (the controller)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Calls ``subscriber(uids)`` after each commit that changed objects; returns the
        function that unsubscribes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, uids: Iterable[str]) -> None:
        changed = frozenset(uids)
        if not changed:
            return
        for subscriber in list(self._subscribers):
            try:
                subscriber(changed)
            except Exception:  # one subscriber's trouble must not fail the writer's commit
                log.exception("a change subscriber failed")

    def session_info(self) -> dict[str, Any]:
        """What a session factory passes as ``info`` so its sessions publish here."""
        return {_FEED: self}


async def note_changed(session: AsyncSession, *uids: str) -> None:
    """Records that this transaction changes the objects ``uids``; published on commit."""
    if not uids:
        return
    pending: set[str] = session.info.setdefault(_PENDING, set())
    pending.update(uids)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        for payload in notify_payloads(uids):
            await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})


def notify_payloads(uids: Iterable[str]) -> list[str]:
    """The uids as space-separated NOTIFY payloads, each within PostgreSQL's size limit."""
    payloads: list[str] = []
    current: list[str] = []
    size = 0
    for uid in uids:
        if current and size + len(uid) + 1 > _MAX_PAYLOAD:
            payloads.append(" ".join(current))
            current, size = [], 0
        current.append(uid)
        size += len(uid) + 1
    if current:
        payloads.append(" ".join(current))
    return payloads


def parse_payload(payload: str) -> frozenset[str]:
    return frozenset(payload.split())


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    uids = session.info.pop(_PENDING, None)
    feed = session.info.get(_FEED)
    if uids and isinstance(feed, ChangeFeed):
        feed.publish(uids)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)
