"""Rerun a finished Job with the same spec: members and admins of its team.

The Job's status starts afresh as Pending (reason ``Rerun``), ``run`` counts up and the
finished run's outcome moves to ``history`` (controller/reruns.py); the controller queues
it for admission like a new Job. A Job that has not finished is refused with 409.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from sapwood.schemas import Object, Phase
from sapwood.server.controller.plan.reruns import (
    RERUN,
    can_rerun,
    history,
    outcome_text,
    rerun_status,
    run_number,
)
from sapwood.server.services.access import Caller, require_write
from sapwood.server.services.convert import row_to_object
from sapwood.server.services.errors import ConflictError
from sapwood.server.services.events import record_event
from sapwood.server.services.objects import find_object
from sapwood.server.store.changes import note_changed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow


async def rerun_job(
    session: AsyncSession, caller: Caller, name: str, *, team: str | None, now: datetime
) -> Object:
    """Starts the next run of a Succeeded or Failed Job; raises ConflictError (409) while
    it is pending, admitted or running, or being deleted."""
    row = await find_object(session, caller, "Job", name, team=team)
    ref = f"job/{row.name}"
    require_write(caller, row.team, ref)
    if row.deletion_timestamp is not None:
        raise ConflictError(f"{ref} is being deleted")
    phase = Phase.of(row.status.get("phase") or Phase.PENDING)
    if not can_rerun(row.status):
        still = "is still running" if phase is Phase.RUNNING else f"has not finished yet ({phase})"
        raise ConflictError(
            f"{ref} {still}: only a Succeeded or Failed job can be rerun",
            hint=f"wait for it to finish, or `sapwood delete job {row.name}` to stop it",
        )
    status = rerun_status(row.status, now=now)
    result = await session.execute(
        update(ObjectRow)
        .where(ObjectRow.id == row.id, ObjectRow.resource_version == row.resource_version)
        .values(status=status, resource_version=row.resource_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise ConflictError(f"{ref} changed meanwhile", hint="try again")
    previous = outcome_text(history(status)[-1])
    message = f"{ref} run {run_number(status)} requested (after {previous})"
    await record_event(session, row, RERUN, message, now=now)
    await note_changed(session, row.uid)
    await session.commit()
    await session.refresh(row)
    return row_to_object(row)
