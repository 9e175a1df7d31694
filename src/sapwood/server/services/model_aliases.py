"""Setting a model's alias, safely under concurrency, and rolling the Services that use it.

Many clients may set the same alias at once. Every set first writes the model's row, which
takes SQLite's write lock and PostgreSQL's row lock on that model, so the sets of one
model's aliases run one after another and each reads the alias as the one before left it:
a move rolls the Services that name the alias exactly once, however many clients asked for
it. The alias itself is written with an upsert (``INSERT … ON CONFLICT DO UPDATE``), so two
first sets of a new alias never collide on its key.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sapwood.server.services.events import record_event
from sapwood.server.services.model_rules import ALIAS_MOVED, alias_move
from sapwood.server.store.changes import note_changed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ModelAliasRow, ModelRow, ObjectRow

log = logging.getLogger("sapwood.registry")


async def set_alias_row(
    session: AsyncSession, team: str, name: str, alias: str, version: int, *, now: datetime
) -> None:
    """Points the alias at ``version`` and, when that moves it, rolls the Services that
    name it; all in the caller's transaction, which the caller commits. Idempotent."""
    # The lock that orders concurrent sets of this model's aliases (see the module note).
    await session.execute(
        update(ModelRow)
        .where(ModelRow.team == team, ModelRow.name == name)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    previous = await session.scalar(
        select(ModelAliasRow.version).where(
            ModelAliasRow.team == team, ModelAliasRow.name == name, ModelAliasRow.alias == alias
        )
    )
    values = {"team": team, "name": name, "alias": alias, "version": version, "updated_at": now}
    await session.execute(_upsert(session, values).execution_options(synchronize_session=False))
    await _roll_services(session, team, name, alias, version=version, previous=previous, now=now)


def _upsert(session: AsyncSession, values: dict[str, object]) -> Insert:
    """``INSERT … ON CONFLICT (team, name, alias) DO UPDATE`` in the store's dialect."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ModelAliasRow).values(**values)
    return statement.on_conflict_do_update(
        index_elements=[ModelAliasRow.team, ModelAliasRow.name, ModelAliasRow.alias],
        set_={
            "version": statement.excluded.version,
            "updated_at": statement.excluded.updated_at,
        },
    )


async def _roll_services(
    session: AsyncSession,
    team: str,
    name: str,
    alias: str,
    *,
    version: int,
    previous: int | None,
    now: datetime,
) -> None:
    """A new generation for each live Service naming ``name@alias`` once the alias points
    elsewhere: the controller then replaces its replicas one at a time (a rolling update)."""
    query = select(ObjectRow).where(
        ObjectRow.kind == "Service",
        ObjectRow.team == team,
        ObjectRow.deletion_timestamp.is_(None),
    )
    rows = {row.name: row for row in await session.scalars(query)}
    specs = {service: row.spec for service, row in rows.items()}
    move = alias_move(name, alias, specs, version=version, previous=previous)
    if move is None or not move.services:
        return
    rolled = [rows[service] for service in move.services]
    await session.execute(
        update(ObjectRow)
        .where(ObjectRow.id.in_([row.id for row in rolled]))
        .values(
            generation=ObjectRow.generation + 1,
            resource_version=ObjectRow.resource_version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await note_changed(session, *(row.uid for row in rolled))
    for row in rolled:
        await session.refresh(row)
        await record_event(session, row, ALIAS_MOVED, move.message(row.generation), now=now)
    log.info(
        "%s@%s moved to version %d: rolling service(s) %s in team %s",
        name,
        alias,
        version,
        ", ".join(move.services),
        team,
    )
