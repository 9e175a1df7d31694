"""Pause and resume a workspace or service: members and admins of its team.

Pausing sets ``spec.paused``; the controller stops every replica, keeps the volumes and
returns the resources. Resuming clears ``spec.paused`` and, for a workload the controller
paused for idleness or at expiry (status reason ``IdlePaused``, ``Expired``) or one that
Failed, marks the status (reason ``ResumeRequested``) so the controller queues it for
admission again. Both are idempotent; resuming one that is neither paused nor failed
changes nothing. A workspace whose time to live has run out is not resumed (409) until
it is extended (services/extend.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from sapwood.schemas import Object, Phase, Reason
from sapwood.server.controller.plan.expiry import stored_ttl, when
from sapwood.server.controller.plan.pausing import CONTROLLER_PAUSES, RESUME_REQUESTED
from sapwood.server.services.access import Caller, require_write
from sapwood.server.services.convert import row_to_object
from sapwood.server.services.errors import ConflictError, InvalidError
from sapwood.server.services.events import record_event
from sapwood.server.services.objects import find_object
from sapwood.server.store.changes import note_changed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.quantity import format_duration

PAUSABLE = ("Workspace", "Service")


async def pause_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None, now: datetime
) -> Object:
    row = await _pausable(session, caller, kind, name, team=team)
    if row.spec.get("paused") is True:
        return row_to_object(row)
    await _write(session, row, spec={**row.spec, "paused": True}, status=row.status, now=now)
    message = f"{_ref(row)} pause requested"
    await record_event(session, row, Reason.PAUSE_REQUESTED, message, now=now)
    await session.commit()
    await session.refresh(row)
    return row_to_object(row)


async def resume_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None, now: datetime
) -> Object:
    row = await _pausable(session, caller, kind, name, team=team)
    _refuse_expired(row, now=now)
    idle_paused = row.status.get("reason") in CONTROLLER_PAUSES
    failed = row.status.get("phase") == Phase.FAILED
    if row.spec.get("paused") is not True and not idle_paused and not failed:
        return row_to_object(row)
    status = dict(row.status)
    if idle_paused or failed:  # the controller moves it to Pending (reason Resuming)
        status.update(reason=RESUME_REQUESTED, message="resume requested")
    await _write(session, row, spec={**row.spec, "paused": False}, status=status, now=now)
    what = "restart requested after failing" if failed else "resume requested"
    await record_event(session, row, RESUME_REQUESTED, f"{_ref(row)} {what}", now=now)
    await session.commit()
    await session.refresh(row)
    return row_to_object(row)


def _refuse_expired(row: ObjectRow, *, now: datetime) -> None:
    """ConflictError for a workspace whose time to live has run out: extend it first."""
    ttl = stored_ttl(row.spec) if row.kind == "Workspace" else None
    if ttl is None or row.created_at + ttl > now:
        return
    expires = row.created_at + ttl
    raise ConflictError(
        f"{_ref(row)}'s time to live {format_duration(ttl)} ran out at {when(expires)}: "
        "extend it before resuming it",
        hint=f"sapwood extend workspace {row.name} --by 1d --team {row.team}",
    )


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
    await note_changed(session, row.uid)


def _ref(row: ObjectRow) -> str:
    return f"{row.kind.lower()}/{row.name}"
