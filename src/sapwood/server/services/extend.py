"""Extend a workspace's time to live: members and admins of its team.

The expiry moves to ``max(now, expiry) + by`` (a workspace without a ttl gets one ending
``by`` from now), written as ``spec.ttl = expiry - createdAt``: a spec change like an
apply's, guarded by resourceVersion, with an ``Extended`` event. A workspace the controller
paused at expiry (reason ``Expired``) stays paused, but a resume is no longer refused.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from sapwood.schemas import Object, Reason
from sapwood.server.controller.plan.expiry import (
    EXPIRED,
    EXPIRES_AT,
    expiry_of,
    stored_ttl,
    when,
)
from sapwood.server.services.access import Caller, require_write
from sapwood.server.services.convert import row_to_object
from sapwood.server.services.errors import ConflictError, Detail, InvalidError
from sapwood.server.services.events import record_event
from sapwood.server.services.objects import find_object
from sapwood.server.store.changes import note_changed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow
from sapwood.specs.quantity import format_duration
from sapwood.specs.workloads import EXTENSION_MAX, EXTENSION_MIN, TTL_MAX

ATTEMPTS = 5
"""How often an extension that lost a race to another writer is redone from a fresh read
(each redo adds ``by`` to what is current then, so two extensions add up)."""


async def extend_workspace(
    session: AsyncSession,
    caller: Caller,
    name: str,
    *,
    team: str | None,
    by: timedelta,
    now: datetime,
) -> Object:
    """Moves the workspace's expiry to ``max(now, expiry) + by``; commits.

    InvalidError (422) for ``by`` outside 1m..30d or a ttl that would pass 365d;
    NotFoundError for a workspace the caller cannot see; ForbiddenError for a viewer;
    ConflictError while it is being deleted, or when it keeps changing meanwhile.
    """
    check_extension(by)
    for _ in range(ATTEMPTS):
        row = await find_object(session, caller, "Workspace", name, team=team)
        ref = f"workspace/{row.name}"
        require_write(caller, row.team, ref)
        if row.deletion_timestamp is not None:
            raise ConflictError(f"{ref} is being deleted")
        ttl = new_ttl(row.created_at, stored_ttl(row.spec), by=by, now=now)
        if ttl > TTL_MAX:
            raise InvalidError(
                f"{ref} would live {format_duration(ttl)} from its creation, "
                f"above the {format_duration(TTL_MAX)} limit",
                details=[Detail("by", "too long for this workspace")],
                hint="extend it by less, or create a new workspace",
            )
        expires = row.created_at + ttl
        if await _write(session, row, ttl=ttl, expires=expires, now=now):
            message = f"time to live extended to {when(expires)} (ttl {format_duration(ttl)})"
            await record_event(session, row, Reason.EXTENDED, message, now=now)
            await note_changed(session, row.uid)
            await session.commit()
            await session.refresh(row)
            return row_to_object(row)
    raise ConflictError(f"workspace/{name} kept changing while being extended", hint="try again")


def check_extension(by: timedelta) -> None:
    """Raises InvalidError unless ``by`` is between EXTENSION_MIN and EXTENSION_MAX."""
    if not EXTENSION_MIN <= by <= EXTENSION_MAX:
        low, high = format_duration(EXTENSION_MIN), format_duration(EXTENSION_MAX)
        message = (
            f"extension {format_duration(by)} is out of range: must be between {low} and {high}"
        )
        raise InvalidError(message, details=[Detail("by", message)])


def new_ttl(
    created_at: datetime, ttl: timedelta | None, *, by: timedelta, now: datetime
) -> timedelta:
    """The ttl whose expiry is ``max(now, current expiry) + by``, in whole seconds rounded up
    (never ending before what was asked). Pure."""
    current = expiry_of(created_at, ttl)
    start = now if current is None else max(now, current)
    return timedelta(seconds=math.ceil((start + by - created_at).total_seconds()))


async def _write(
    session: AsyncSession, row: ObjectRow, *, ttl: timedelta, expires: datetime, now: datetime
) -> bool:
    """The guarded spec write; False (rolled back) when someone wrote the row meanwhile."""
    status: dict[str, Any] = {**row.status, EXPIRES_AT: expires.isoformat()}
    if status.get("reason") == EXPIRED:  # paused at expiry: it no longer says to extend
        status["message"] = f"time to live extended to {when(expires)}; resume it to use it again"
    result = await session.execute(
        update(ObjectRow)
        .where(ObjectRow.id == row.id, ObjectRow.resource_version == row.resource_version)
        .values(
            spec={**row.spec, "ttl": format_duration(ttl)},
            status=status,
            generation=row.generation + 1,
            resource_version=row.resource_version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    return True
