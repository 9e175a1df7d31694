"""The controller's writes to the store: plans' statuses, events and removals in bulk,
workload tokens, and the quotas the scheduler reads. (Objects are read by cache.py.)

No runtime call happens while a session is open (see STYLE.md, Controllers).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import EventType
from sapwood.server.controller.plan import scheduler
from sapwood.server.controller.plan.kinds import policy_for, run_ended
from sapwood.server.controller.plan.view import EventNote, ObjectView, Plan
from sapwood.server.secrets import workload_token_id
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.events import EventFields, add_events
from sapwood.server.store.leases import LeaseFence, check_fence
from sapwood.server.store.tables import (
    FeedBatchRow,
    FeedResultRow,
    ObjectRow,
    QuotaRow,
    TokenRow,
)
from sapwood.specs.quantity import parse_cpu, parse_memory

log = logging.getLogger("sapwood.controller")


@dataclass
class Outcome:
    """What a write of plans did, by object uid."""

    written: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    """New status and resourceVersion of each object whose status was written."""
    removed: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)  # changed by someone since it was loaded


async def apply_plans(
    sessions: async_sessionmaker[AsyncSession],
    results: list[tuple[ObjectView, Plan]],
    *,
    now: datetime,
    fence: LeaseFence | None = None,
) -> Outcome:
    """Writes each status (guarded by resourceVersion), its events, and removals, in one
    transaction, the statuses and events in bulk.

    A stale object (changed by someone since it was loaded) is skipped with its events;
    the caller reloads it and plans it again from what is current. Under a `fence` (the
    leader's term), nothing is written once the term has ended: LeaseLostError.
    """
    outcome = Outcome()
    pending = [(view, plan) for view, plan in results if _writes(view, plan)]
    if not pending:
        return outcome
    async with sessions() as session:
        updates: list[tuple[ObjectView, dict[str, Any]]] = []
        for view, plan in pending:
            if plan.remove:
                if await _remove(session, view):
                    outcome.removed.add(view.uid)
                else:
                    outcome.stale.add(view.uid)
            elif plan.status is not None:
                status = {**plan.status, "observedGeneration": view.generation}
                if status != view.status:
                    updates.append((view, status))
        outcome.stale |= await _write_statuses(session, updates, now=now)
        for view, status in updates:
            if view.uid not in outcome.stale:
                outcome.written[view.uid] = (status, view.resource_version + 1)
        ended = [
            view.uid
            for view, plan in pending
            if view.uid not in outcome.stale
            and plan.status is not None
            and run_ended(view.kind, plan.status)
        ]
        await end_workload_tokens(session, ended, now=now)
        events = [
            _event_fields(view, note)
            for view, plan in pending
            if view.uid not in outcome.stale
            for note in plan.events
        ]
        await add_events(session, events, now=now)
        if fence is not None:
            await check_fence(session, fence)  # raises, and the session rolls back
        await session.commit()
    return outcome


async def _remove(session: AsyncSession, view: ObjectView) -> bool:
    """Deletes the row (guarded) and its token, and a feed's records; False when stale."""
    guard = (ObjectRow.id == view.id, ObjectRow.resource_version == view.resource_version)
    result = await session.execute(delete(ObjectRow).where(*guard))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(delete(TokenRow).where(TokenRow.id == token_id_of(view)))
    if policy_for(view.kind).takes_records:  # its records and results go with it
        await session.execute(delete(FeedBatchRow).where(FeedBatchRow.feed_uid == view.uid))
        await session.execute(delete(FeedResultRow).where(FeedResultRow.feed_uid == view.uid))
    return True


_OBJECTS: Table = ObjectRow.__table__  # type: ignore[assignment]  # Core, for executemany
_STATUS_WRITE = (
    update(_OBJECTS)
    .where(
        _OBJECTS.c.id == bindparam("w_id"),
        _OBJECTS.c.resource_version == bindparam("w_version"),
    )
    .values(
        status=bindparam("w_status"),
        resource_version=bindparam("w_next"),
        updated_at=bindparam("w_at"),
    )
)


async def _write_statuses(
    session: AsyncSession, updates: list[tuple[ObjectView, dict[str, Any]]], *, now: datetime
) -> set[str]:
    """Writes the statuses guarded by resourceVersion, many per statement; returns the uids
    found stale. When a batch matches fewer rows than it holds, it is redone row by row to
    learn which."""
    stale: set[str] = set()
    for start in range(0, len(updates), _BATCH):
        batch = updates[start : start + _BATCH]
        params = [
            {
                "w_id": view.id,
                "w_version": view.resource_version,
                "w_status": status,
                "w_next": view.resource_version + 1,
                "w_at": now,
            }
            for view, status in batch
        ]
        connection = await session.connection()
        if len(params) > 1:
            savepoint = await session.begin_nested()
            result = await connection.execute(_STATUS_WRITE, params)
            if result.rowcount == len(params):
                await savepoint.commit()
                continue
            await savepoint.rollback()
        for (view, _), one in zip(batch, params, strict=True):
            result = await connection.execute(_STATUS_WRITE, one)
            if result.rowcount != 1:
                stale.add(view.uid)
    return stale


_BATCH = 500  # status writes per statement


def _writes(view: ObjectView, plan: Plan) -> bool:
    if plan.remove or plan.events:
        return True
    if plan.status is None:
        return False
    return {**plan.status, "observedGeneration": view.generation} != view.status


def scope_of(view: ObjectView) -> str:
    return f"{view.kind}/{view.team}/{view.name}"


def token_id_of(view: ObjectView) -> str:
    return workload_token_id(view.uid)


def _event_fields(view: ObjectView, note: EventNote) -> EventFields:
    return EventFields(
        uid=view.uid,
        kind=view.kind,
        team=view.team,
        name=view.name,
        type=(EventType.WARNING if note.warning else EventType.NORMAL).value,
        reason=note.reason,
        message=note.message,
    )


@dataclass(frozen=True)
class WorkloadToken:
    """A workload's derived token as stored: its id, the hash of its secret, its scope."""

    id: str
    secret_hash: str
    scope: str


async def ensure_workload_tokens(
    sessions: async_sessionmaker[AsyncSession],
    tokens: list[WorkloadToken],
    *,
    user: str,
    now: datetime,
    fence: LeaseFence | None = None,
) -> None:
    """Stores the hashes of workloads' derived tokens, enabled; idempotent, one
    transaction for them all; under a `fence`, only while its term lasts (LeaseLostError).

    Called when runs begin (a start, a re-run, a resume) and for units adopted after a
    restart: a token its run's end revoked works again, and a changed server key's new
    secret replaces the old one.
    """
    if not tokens:
        return
    wanted = {t.id: t for t in tokens}
    async with sessions() as session:
        rows = {
            row.id: row
            for row in await session.scalars(select(TokenRow).where(TokenRow.id.in_(wanted)))
        }
        for token in wanted.values():
            row = rows.get(token.id)
            if row is None:
                session.add(
                    TokenRow(
                        id=token.id,
                        user=user,
                        secret_hash=token.secret_hash,
                        description=f"workload token for {token.scope}",
                        created_at=now,
                        scope=token.scope,
                    )
                )
            elif row.revoked_at is not None or row.secret_hash != token.secret_hash:
                row.revoked_at = None
                row.secret_hash = token.secret_hash
        try:
            if fence is not None:
                await session.flush()  # the writes first: see store/leases.py
                await check_fence(session, fence)
            await session.commit()
        except IntegrityError:  # another server stored one of them meanwhile: go one by one
            await session.rollback()
            if len(tokens) == 1:
                return
            for token in tokens:
                await ensure_workload_tokens(sessions, [token], user=user, now=now, fence=fence)


async def end_workload_token(session: AsyncSession, uid: str, *, now: datetime) -> None:
    """Revokes the workload token of the object ``uid`` in the caller's transaction (not
    committed here), so it ends together with the status or deletion written beside it.
    Idempotent; nothing happens when the object never had a token."""
    await end_workload_tokens(session, [uid], now=now)


async def end_workload_tokens(
    session: AsyncSession, uids: Collection[str], *, now: datetime
) -> None:
    """``end_workload_token`` for many objects, in few statements."""
    ids = sorted(workload_token_id(uid) for uid in uids)
    for start in range(0, len(ids), _BATCH):
        await session.execute(
            update(TokenRow)
            .where(TokenRow.id.in_(ids[start : start + _BATCH]), TokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


UNCAPPED = 2**62  # a resource a quota leaves without a cap


async def load_quotas(sessions: async_sessionmaker[AsyncSession]) -> dict[str, scheduler.Quota]:
    """Every team's quota in the scheduler's units."""
    async with sessions() as session:
        rows = list(await session.scalars(select(QuotaRow)))
    return {row.team: _quota(row) for row in rows}


def _quota(row: QuotaRow) -> scheduler.Quota:
    def amounts(data: dict[str, Any], unset: int) -> scheduler.Resources:
        cpu, memory, gpu = data.get("cpu"), data.get("memory"), data.get("gpu")
        return scheduler.Resources(
            unset if cpu is None else parse_cpu(cpu),
            unset if memory is None else parse_memory(memory),
            unset if gpu is None else int(gpu),
        )

    cap = amounts(row.max, UNCAPPED) if row.max is not None else None
    return scheduler.Quota(guaranteed=amounts(row.guaranteed, 0), max=cap, weight=row.weight)
