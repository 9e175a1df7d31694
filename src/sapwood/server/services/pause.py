"""Pause and resume a workspace or service: members and admins of its team.

Pausing sets ``spec.paused``; the controller stops every replica, keeps the volumes and
returns the resources. Resuming clears ``spec.paused`` and, for a workload the controller
paused for idleness (status reason ``IdlePaused``), marks the status so the controller
queues it for admission again. Both are idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import Object
from sapwood.server.controller.services import IDLE_PAUSED
from sapwood.server.services.access import Caller, require_write
from sapwood.server.services.convert import row_to_object
from sapwood.server.services.errors import ConflictError, InvalidError
from sapwood.server.services.events import record_event
from sapwood.server.services.objects import find_object
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow

PAUSABLE = ("Workspace", "Service")
RESUME_REQUESTED = "ResumeRequested"


async def pause_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None, now: datetime
) -> Object:
    row = await _pausable(session, caller, kind, name, team=team)
    if row.spec.get("paused") is True:
        return row_to_object(row)
    await _write(session, row, spec={**row.spec, "paused": True}, status=row.status, now=now)
    record_event(session, row, "PauseRequested", f"{_ref(row)} pause requested", now=now)
    await session.commit()
    await session.refresh(row)
    return row_to_object(row)


async def resume_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None, now: datetime
) -> Object:
    row = await _pausable(session, caller, kind, name, team=team)
    idle_paused = row.status.get("reason") == IDLE_PAUSED
    if row.spec.get("paused") is not True and not idle_paused:
        return row_to_object(row)
    status = dict(row.status)
    if idle_paused:  # the controller moves it to Pending (reason Resuming) next pass
        status.update(reason=RESUME_REQUESTED, message="resume requested")
    await _write(session, row, spec={**row.spec, "paused": False}, status=status, now=now)
    record_event(session, row, RESUME_REQUESTED, f"{_ref(row)} resume requested", now=now)
    await session.commit()
    await session.refresh(row)
    return row_to_object(row)


async def resume_on_request(
    sessions: async_sessionmaker[AsyncSession],
    held: Mapping[tuple[str, str], int],
    *,
    now: datetime,
) -> list[tuple[str, str]]:
    """Resumes idle-paused services that requests wait for at the gateway.

    ``held``: requests the gateway holds per (team, service name). Only services the
    controller paused for idleness resume this way (one paused by hand stays paused).
    Returns the (team, name) pairs resumed; the caller wakes the controller for them.
    Hook for the gateway: call it whenever it holds requests for a service it cannot route.
    """
    wanted = {pair for pair, count in held.items() if count > 0}
    if not wanted:
        return []
    resumed = []
    async with sessions() as session:
        query = select(ObjectRow).where(
            ObjectRow.kind == "Service", ObjectRow.name.in_({name for _, name in wanted})
        )
        for row in list(await session.scalars(query)):
            if (row.team, row.name) not in wanted or row.status.get("reason") != IDLE_PAUSED:
                continue
            if row.spec.get("paused") is True or row.deletion_timestamp is not None:
                continue
            status = {**row.status, "reason": RESUME_REQUESTED, "message": "a request is waiting"}
            try:
                await _write(session, row, spec=row.spec, status=status, now=now)
            except ConflictError:
                continue  # changed meanwhile: the gateway asks again
            record_event(
                session, row, RESUME_REQUESTED, "resumed: a request waits at the gateway", now=now
            )
            await session.commit()
            resumed.append((row.team, row.name))
    return resumed


async def _pausable(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None
) -> ObjectRow:
    row = await find_object(session, caller, kind, name, team=team)
    require_write(caller, row.team, _ref(row))
    if row.kind not in PAUSABLE:
        raise InvalidError(
            f"{_ref(row)} cannot be paused: only workspaces and services can",
            hint="delete a job to stop it",
        )
    if row.deletion_timestamp is not None:
        raise ConflictError(f"{_ref(row)} is being deleted")
    return row


async def _write(
    session: AsyncSession,
    row: ObjectRow,
    *,
    spec: dict[str, Any],
    status: dict[str, Any],
    now: datetime,
) -> None:
    changed = spec != row.spec
    result = await session.execute(
        update(ObjectRow)
        .where(ObjectRow.id == row.id, ObjectRow.resource_version == row.resource_version)
        .values(
            spec=spec,
            status=status,
            generation=row.generation + (1 if changed else 0),
            resource_version=row.resource_version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise ConflictError(f"{_ref(row)} changed meanwhile", hint="try again")


def _ref(row: ObjectRow) -> str:
    return f"{row.kind.lower()}/{row.name}"
