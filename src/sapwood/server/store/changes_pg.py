"""Changes other server replicas committed, heard through PostgreSQL's LISTEN.

Writers send the uids they change with ``pg_notify`` in their transaction (see
``changes.note_changed``); this listener hands them to the local ``ChangeFeed``. A lost
connection is reopened after a pause. Every LISTEN that starts, the first included, is
reported through ``on_reconnect`` so the caller can resync: notifications sent while
nobody listened are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from sapwood.server.store.changes import CHANNEL, ChangeFeed, parse_payload

log = logging.getLogger("sapwood.store")
RECONNECT_S = 2.0


def libpq_url(database_url: str) -> str:
    """The URL psycopg connects with: no SQLAlchemy driver suffix."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgChangeListener:
    def __init__(
        self, database_url: str, feed: ChangeFeed, *, on_reconnect: Callable[[], None]
    ) -> None:
        self._url = libpq_url(database_url)
        self._feed = feed
        self._on_reconnect = on_reconnect
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sapwood-change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # What was written before this LISTEN (the controller's first load may
                    # predate it, or the last connection died) is compared afresh.
                    self._on_reconnect()
                    async for note in conn.notifies():
                        self._feed.publish(parse_payload(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("change listener lost its connection: %s; reconnecting", exc)
            await asyncio.sleep(RECONNECT_S)
