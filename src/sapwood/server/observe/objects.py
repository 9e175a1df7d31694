"""The objects an observer reads: only the ones it looks at (those with running units, or
the feeds), never the whole store, so its cost follows what runs, not what is stored."""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.controller.cache import Parsed, view_of
from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow

log = logging.getLogger("sapwood.observe")

Owner = tuple[str, str, str]  # (kind, team, name)
_CHUNK = 300  # owners per IN (...) query: three parameters each


async def views_of(
    sessions: async_sessionmaker[AsyncSession], owners: Collection[Owner], parsed: Parsed
) -> dict[Owner, ObjectView]:
    """The stored objects among ``owners``; an object whose spec no longer parses is left
    out. ``parsed`` spares parsing a spec again while its generation and labels hold."""
    wanted = sorted(owners)
    rows: list[ObjectRow] = []
    async with sessions() as session:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            key = tuple_(ObjectRow.kind, ObjectRow.team, ObjectRow.name)
            rows += await session.scalars(select(ObjectRow).where(key.in_(chunk)))
    views = (_view(row, parsed) for row in rows)
    return {(v.kind, v.team, v.name): v for v in views if v is not None}


async def live_feeds(
    sessions: async_sessionmaker[AsyncSession], parsed: Parsed
) -> list[ObjectView]:
    """Every feed not being deleted."""
    query = select(ObjectRow).where(
        ObjectRow.kind == "Feed", ObjectRow.deletion_timestamp.is_(None)
    )
    async with sessions() as session:
        rows = list(await session.scalars(query))
    return [v for v in (_view(row, parsed) for row in rows) if v is not None]


def _view(row: ObjectRow, parsed: Parsed) -> ObjectView | None:
    return view_of(row, parsed, quiet=True)  # the controller logs a spec that no longer parses
