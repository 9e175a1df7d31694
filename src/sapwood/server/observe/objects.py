"""The objects an observer reads: only the ones it looks at (those with running units, or
the feeds), never the whole store, so its cost follows what runs, not what is stored."""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.server.controller.plan.view import ObjectView
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.objects import AnyObject, SpecError, parse_object

log = logging.getLogger("sapwood.observe")

Owner = tuple[str, str, str]  # (kind, team, name)
# Parsed specs by uid, kept by the caller between reads: (generation, labels, object).
Parsed = dict[str, tuple[int, dict[str, str], AnyObject]]
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
    known = parsed.get(row.uid)
    if known is not None and known[0] == row.generation and known[1] == row.labels:
        obj = known[2]
    else:
        document = {
            "apiVersion": "sapwood/v1",
            "kind": row.kind,
            "metadata": {"name": row.name, "team": row.team, "labels": row.labels},
            "spec": row.spec,
        }
        try:
            obj = parse_object(document)
        except SpecError as exc:  # the controller says so in its log; skip it here
            log.debug("%s/%s/%s: stored spec is invalid: %s", row.kind, row.team, row.name, exc)
            return None
        parsed[row.uid] = (row.generation, dict(row.labels), obj)
    return ObjectView(
        id=row.id,
        uid=row.uid,
        obj=obj,
        team=row.team,
        generation=row.generation,
        resource_version=row.resource_version,
        created_at=row.created_at,
        deletion_timestamp=row.deletion_timestamp,
        status=dict(row.status),
    )
