"""Workspaces, Jobs and Services: apply, get, list, delete.

Apply is all-or-nothing: every document is validated and authorised before the first
row is written, and the writes share one transaction. An apply that loses a race to
another writer (its guarded update matched no row, or its create hit the same name) is
redone from a fresh read, as the Kubernetes API server does for unconditional updates:
only a document that carries ``metadata.resourceVersion`` can then get a 409.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement, Select

from sapwood.schemas import (
    ApplyAction,
    ApplyResponse,
    ApplyResult,
    DeleteResponse,
    EventType,
    Object,
    ObjectPage,
    Phase,
    Reason,
)
from sapwood.server.controller.store_io import end_workload_token
from sapwood.server.services.access import (
    Caller,
    default_team,
    readable_teams,
    require_read,
    require_write,
)
from sapwood.server.services.convert import row_to_object
from sapwood.server.services.errors import ConflictError, Detail, InvalidError, NotFoundError
from sapwood.server.services.events import record_event
from sapwood.server.services.object_rows import current_rows, insert_new
from sapwood.server.services.paging import decode_continue, encode_continue
from sapwood.server.store.changes import note_changed
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.events import EventFields, add_events
from sapwood.server.store.tables import LabelRow, ObjectRow, TeamRow
from sapwood.specs.objects import AnyObject, SpecError, parse_object, spec_dict
from sapwood.specs.selectors import Op, Requirement, parse_selector
from sapwood.specs.suggest import did_you_mean

APPLY_ATTEMPTS = 10
"""How often an apply that loses a race is redone before it answers 409. Each lost race
means another writer committed, so with fewer concurrent writers of the same objects
than this, an unconditional apply always succeeds."""


class LostRaceError(Exception):
    """Another writer changed an object between this apply's read and its guarded write."""


@dataclass(frozen=True)
class Desired:
    """One validated document, with its team resolved."""

    obj: AnyObject
    team: str
    spec: dict[str, Any]
    owner: str | None = None  # the applying user: a new object's owner

    @property
    def ref(self) -> str:
        return f"{self.obj.kind.lower()}/{self.obj.metadata.name}"


def decide_apply(current: ObjectRow | None, desired: Desired) -> ApplyAction:
    """created, configured or unchanged; ConflictError when the write must not happen."""
    expected = desired.obj.metadata.resource_version
    if current is None:
        if expected:
            raise ConflictError(
                f"{desired.ref} does not exist in team {desired.team}, "
                f"but resourceVersion {expected} was given",
                hint="drop metadata.resourceVersion to create it",
            )
        return ApplyAction.CREATED
    if current.deletion_timestamp is not None:
        raise ConflictError(
            f"{desired.ref} is being deleted", hint="wait until it is gone, then apply again"
        )
    if expected is not None and expected != current.resource_version:
        raise ConflictError(
            f"{desired.ref} changed since you read it: you sent resourceVersion {expected}, "
            f"it is now {current.resource_version} (generation {current.generation})",
            hint=f"get it again (sapwood get {desired.obj.kind.lower()} {current.name} -o yaml) "
            "and reapply your change",
        )
    if current.spec == desired.spec and current.labels == desired.obj.metadata.labels:
        return ApplyAction.UNCHANGED
    return ApplyAction.CONFIGURED


def validate_documents(
    caller: Caller,
    documents: Sequence[Mapping[str, Any]],
    *,
    priorities: Mapping[str, int],
    local_workdirs: bool = False,
) -> list[Desired]:
    """Every document parsed, authorised and checked; the first failure names its index.

    With ``local_workdirs`` (the local runtime runs workloads on this machine), a
    ``workdir`` must be a directory here. CPU-bound on a large document: callers on the
    event loop run it in a thread.
    """
    out: list[Desired] = []
    seen: set[tuple[str, str, str]] = set()
    for index, document in enumerate(documents):
        where = f"objects[{index}]"
        try:
            obj = parse_object(document)
        except SpecError as exc:
            details = [
                Detail(f"{where}.{e.path}" if e.path else where, e.message) for e in exc.errors
            ]
            raise InvalidError(
                f"object {index + 1} of {len(documents)} is invalid", details=details
            ) from None
        team = obj.metadata.team or default_team(caller)
        ref = f"{obj.kind.lower()}/{obj.metadata.name}"
        require_write(caller, team, ref)
        if obj.spec.priority not in priorities:
            allowed = ", ".join(sorted(priorities, key=lambda p: -priorities[p]))
            raise InvalidError(
                f"object {index + 1} of {len(documents)} is invalid",
                details=[
                    Detail(
                        f"{where}.spec.priority",
                        f"unknown priority {obj.spec.priority!r}: expected one of {allowed}",
                    )
                ],
            )
        workdir = obj.spec.workdir
        if local_workdirs and workdir is not None and not os.path.isdir(workdir):
            raise InvalidError(
                f"object {index + 1} of {len(documents)} is invalid",
                details=[
                    Detail(
                        f"{where}.spec.workdir",
                        f"{workdir!r} is not a directory on the server, where the local "
                        "runtime runs workloads",
                    )
                ],
            )
        key = (obj.kind, team, obj.metadata.name)
        if key in seen:
            raise InvalidError(f"{ref} appears twice in team {team}: apply each object once")
        seen.add(key)
        out.append(Desired(obj, team, spec_dict(obj.spec), owner=caller.user))
    return out


async def apply_objects(
    session: AsyncSession,
    caller: Caller,
    documents: Sequence[Mapping[str, Any]],
    *,
    dry_run: bool,
    now: datetime,
    priorities: Mapping[str, int],
    local_workdirs: bool = False,
) -> ApplyResponse:
    # Off the event loop: validating a large document must not stall other requests.
    desired = await asyncio.to_thread(
        validate_documents,
        caller,
        documents,
        priorities=priorities,
        local_workdirs=local_workdirs,
    )
    for team in sorted({d.team for d in desired}):
        if await session.get(TeamRow, team) is None:
            raise NotFoundError(
                f"team {team} not found", hint="create it with `sapwood teams create`"
            )
    for _ in range(APPLY_ATTEMPTS):
        try:
            return await _apply_all(session, desired, dry_run=dry_run, now=now)
        except (LostRaceError, IntegrityError):
            # Another writer changed or created one of these objects between our read and
            # our write: read again and redo the apply. A document that carries
            # resourceVersion then gets decide_apply's 409, as it should.
            continue
    raise ConflictError(
        f"these objects kept changing while being applied ({APPLY_ATTEMPTS} attempts)",
        hint="apply again",
    )


async def _apply_all(
    session: AsyncSession, desired: Sequence[Desired], *, dry_run: bool, now: datetime
) -> ApplyResponse:
    """One attempt, in one transaction; rolled back on any error. The current rows are
    read in one query, new rows written in bulk, their "created" events without a lookup."""
    results = []
    created: list[tuple[ObjectRow, Desired]] = []
    try:
        current = await current_rows(session, desired)
        for item in desired:
            key = (item.obj.kind, item.team, item.obj.metadata.name)
            results.append(await _apply_one(session, item, current.get(key), created, now=now))
        await insert_new(session, [row for row, _ in created])
        events = [
            EventFields(
                row.uid,
                row.kind,
                row.team,
                row.name,
                EventType.NORMAL.value,
                Reason.CREATED,
                f"{item.ref} created",
            )
            for row, item in created
        ]
        await add_events(session, events, now=now, new_uids=[row.uid for row, _ in created])
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return ApplyResponse(results=results, dry_run=dry_run)


async def _apply_one(
    session: AsyncSession,
    item: Desired,
    current: ObjectRow | None,
    created: list[tuple[ObjectRow, Desired]],
    *,
    now: datetime,
) -> ApplyResult:
    meta = item.obj.metadata
    action = decide_apply(current, item)
    if action is ApplyAction.UNCHANGED and current is not None:
        return ApplyResult(action=action, object=row_to_object(current))
    if current is None:
        row = ObjectRow(
            uid=str(uuid.uuid4()),
            kind=item.obj.kind,
            team=item.team,
            name=meta.name,
            labels=dict(meta.labels),
            spec=item.spec,
            status={"phase": Phase.PENDING.value},
            generation=1,
            resource_version=1,
            created_at=now,
            updated_at=now,
            owner=item.owner,
        )
        created.append((row, item))  # written with the others, then its labels and event
    else:
        spec_changed = current.spec != item.spec
        result = await session.execute(
            update(ObjectRow)
            .where(
                ObjectRow.id == current.id,
                ObjectRow.resource_version == current.resource_version,
            )
            .values(
                spec=item.spec,
                labels=dict(meta.labels),
                generation=current.generation + (1 if spec_changed else 0),
                resource_version=current.resource_version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LostRaceError(f"{item.ref} changed while it was being applied")
        await session.execute(delete(LabelRow).where(LabelRow.object_id == current.id))
        await session.refresh(current)
        row = current
        what = "spec changed" if spec_changed else "labels changed"
        await record_event(
            session, row, Reason.CONFIGURED, f"{what} (generation {row.generation})", now=now
        )
    if current is not None:  # a new row's labels are added once the batch has its ids
        session.add_all(LabelRow(object_id=row.id, key=k, value=v) for k, v in meta.labels.items())
    await note_changed(session, row.uid)
    return ApplyResult(action=action, object=row_to_object(row))


def _by_key(kind: str, team: str, name: str) -> Select[ObjectRow]:
    return select(ObjectRow).where(
        ObjectRow.kind == kind, ObjectRow.team == team, ObjectRow.name == name
    )


SUGGESTION_POOL = 100
"""How many names on each side of a missing one, in sort order, a 'did you mean' weighs.
A typo seldom changes a name's first letters, and weighing every name (difflib) holds the
event loop for a second or two at 50,000 objects, for each 404."""


async def _names(session: AsyncSession, kind: str, name: str, teams: list[str] | None) -> list[str]:
    """Names of ``kind`` in ``teams`` (every team when None) next to ``name`` in sort
    order: what a suggestion may offer, so it never names an object the caller cannot
    read. Every name while the kind has at most SUGGESTION_POOL on either side."""
    query = select(ObjectRow.name).where(ObjectRow.kind == kind)
    if teams is not None:
        query = query.where(ObjectRow.team.in_(teams))
    below = query.where(ObjectRow.name < name).order_by(ObjectRow.name.desc())
    above = query.where(ObjectRow.name > name).order_by(ObjectRow.name)
    return [
        *await session.scalars(below.limit(SUGGESTION_POOL)),
        *await session.scalars(above.limit(SUGGESTION_POOL)),
    ]


async def find_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None
) -> ObjectRow:
    """The row the caller means, or NotFoundError (also for teams the caller cannot read).

    Without a team, the name is looked up in every team the caller reads; a name found in
    several asks the caller to choose.
    """
    ref = f"{kind.lower()}/{name}"
    if team is not None:
        require_read(caller, team, ref)
        row = await session.scalar(_by_key(kind, team, name))
        if row is None:
            hint = did_you_mean(name, await _names(session, kind, name, [team]))
            raise NotFoundError(f"{ref} not found in team {team}{hint}")
        return row
    query = select(ObjectRow).where(ObjectRow.kind == kind, ObjectRow.name == name)
    visible = readable_teams(caller)
    if visible is not None:
        query = query.where(ObjectRow.team.in_(visible))
    rows = list(await session.scalars(query))
    if not rows:
        hint = did_you_mean(name, await _names(session, kind, name, visible))
        raise NotFoundError(f"{ref} not found{hint}")
    if len(rows) > 1:
        teams = ", ".join(sorted(r.team for r in rows))
        raise InvalidError(f"{ref} exists in several teams ({teams})", hint="pass --team")
    return rows[0]


async def get_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None
) -> Object:
    return row_to_object(await find_object(session, caller, kind, name, team=team))


async def list_objects(
    session: AsyncSession,
    caller: Caller,
    kind: str,
    *,
    team: str | None,
    selector: str | None,
    limit: int,
    continue_: str | None,
) -> ObjectPage:
    """One page in creation order; the continue token resumes after its last item."""
    query = select(ObjectRow).where(ObjectRow.kind == kind).order_by(ObjectRow.id).limit(limit + 1)
    if team is not None:
        require_read(caller, team, f"{kind.lower()}s")
        query = query.where(ObjectRow.team == team)
    elif (visible := readable_teams(caller)) is not None:
        query = query.where(ObjectRow.team.in_(visible))
    if selector:
        try:
            requirements = parse_selector(selector)
        except ValueError as exc:
            raise InvalidError(str(exc), details=[Detail("selector", str(exc))]) from None
        query = query.where(*(_label_clause(r) for r in requirements))
    after = decode_continue(continue_)
    if after:
        query = query.where(ObjectRow.id > after)
    rows = list(await session.scalars(query))
    token = encode_continue(rows[limit - 1].id) if len(rows) > limit else None
    return ObjectPage(items=[row_to_object(r) for r in rows[:limit]], continue_=token)


def _label_clause(requirement: Requirement) -> ColumnElement[bool]:
    has_key = LabelRow.object_id == ObjectRow.id
    key = LabelRow.key == requirement.key
    if requirement.op is Op.EXISTS:
        return exists().where(has_key, key)
    if requirement.op is Op.ABSENT:
        return not_(exists().where(has_key, key))
    same = exists().where(has_key, key, LabelRow.value == requirement.value)
    return same if requirement.op is Op.EQ else not_(same)


async def delete_object(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None, now: datetime
) -> DeleteResponse:
    """Removes an object that never started at once; otherwise marks it for the controller.

    Idempotent: deleting an object already being deleted changes nothing. A delete that
    loses a race (the controller wrote the status meanwhile) is redone from a fresh read.
    """
    for _ in range(APPLY_ATTEMPTS - 1):
        try:
            return await _delete_once(session, caller, kind, name, team=team, now=now)
        except LostRaceError:
            continue
    try:
        return await _delete_once(session, caller, kind, name, team=team, now=now)
    except LostRaceError as exc:
        raise ConflictError(str(exc), hint="delete again") from exc


async def _delete_once(
    session: AsyncSession, caller: Caller, kind: str, name: str, *, team: str | None, now: datetime
) -> DeleteResponse:
    row = await find_object(session, caller, kind, name, team=team)
    require_write(caller, row.team, f"{kind.lower()}/{name}")
    if row.deletion_timestamp is not None:
        return DeleteResponse(object=row_to_object(row), finished=False)
    await end_workload_token(session, row.uid, now=now)  # committed with the deletion
    if row.status.get("phase") == Phase.PENDING.value:
        await record_event(session, row, Reason.DELETED, f"{kind.lower()}/{name} deleted", now=now)
        wire = row_to_object(row)
        await session.delete(row)
        await note_changed(session, row.uid)
        await session.commit()
        return DeleteResponse(object=wire, finished=True)
    result = await session.execute(
        update(ObjectRow)
        .where(ObjectRow.id == row.id, ObjectRow.resource_version == row.resource_version)
        .values(
            deletion_timestamp=now,
            status={**row.status, "phase": Phase.TERMINATING.value},
            resource_version=row.resource_version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise LostRaceError(f"{kind.lower()}/{name} changed while it was being deleted")
    await record_event(
        session, row, Reason.DELETING, "marked for deletion; stopping its replicas", now=now
    )
    await note_changed(session, row.uid)
    await session.commit()
    await session.refresh(row)
    return DeleteResponse(object=row_to_object(row), finished=False)
