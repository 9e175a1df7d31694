"""The controller's two short trips to the store: load every object, apply the results.

No runtime call happens while a session is open (see STYLE.md, Controllers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from sapwood.schemas import EventType
from sapwood.server.controller.plan import scheduler
from sapwood.server.controller.plan.kinds import policy_for, run_ended
from sapwood.server.controller.plan.view import EventNote, ObjectView, Plan
from sapwood.server.secrets import workload_token_id
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.events import EventFields, add_event
from sapwood.server.store.tables import (
    FeedBatchRow,
    FeedResultRow,
    ObjectRow,
    QuotaRow,
    TokenRow,
)
from sapwood.specs.objects import AnyObject, SpecError, parse_object
from sapwood.specs.quantity import parse_cpu, parse_memory

log = logging.getLogger("sapwood.controller")


# Parsed objects by (uid, generation, labels): what a spec parses to changes only then.
ParsedSpecs = dict[tuple[str, int, tuple[tuple[str, str], ...]], AnyObject]


async def load_views(
    sessions: async_sessionmaker[AsyncSession], parsed: ParsedSpecs | None = None
) -> list[ObjectView]:
    """Every object, parsed; an object whose stored spec no longer parses is skipped.

    ``parsed`` (owned by the caller, kept between passes) spares re-validating specs that
    did not change; it is pruned to the objects seen in this call.
    """
    async with sessions() as session:
        rows = list(await session.scalars(select(ObjectRow).order_by(ObjectRow.id)))
    cache: ParsedSpecs = parsed if parsed is not None else {}
    seen: set[tuple[str, int, tuple[tuple[str, str], ...]]] = set()
    views = []
    for row in rows:
        key = (row.uid, row.generation, tuple(sorted(row.labels.items())))
        seen.add(key)
        obj = cache.get(key)
        if obj is None:
            obj = _parse(row)
            if obj is None:
                continue
            cache[key] = obj
        views.append(
            ObjectView(
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
        )
    for stale in set(cache) - seen:
        del cache[stale]
    return views


def _parse(row: ObjectRow) -> AnyObject | None:
    document = {
        "apiVersion": "sapwood/v1",
        "kind": row.kind,
        "metadata": {"name": row.name, "team": row.team, "labels": row.labels},
        "spec": row.spec,
    }
    try:
        return parse_object(document)
    except SpecError as exc:
        log.error(
            "skipping %s/%s/%s: stored spec is invalid: %s", row.kind, row.team, row.name, exc
        )
        return None


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
) -> Outcome:
    """Writes each status (guarded by resourceVersion), its events, and removals, in one
    transaction.

    A stale object (changed by someone since it was loaded) is skipped with its events;
    the caller reloads it and plans it again from what is current.
    """
    outcome = Outcome()
    pending = [(view, plan) for view, plan in results if _writes(view, plan)]
    if not pending:
        return outcome
    async with sessions() as session:
        for view, plan in pending:
            status = None
            if plan.status is not None:
                status = {**plan.status, "observedGeneration": view.generation}
            changed = status is not None and status != view.status
            guard = (ObjectRow.id == view.id, ObjectRow.resource_version == view.resource_version)
            if plan.remove:
                result = await session.execute(delete(ObjectRow).where(*guard))
                await session.execute(delete(TokenRow).where(TokenRow.id == token_id_of(view)))
                removed = result.rowcount == 1  # type: ignore[attr-defined]
                if removed and policy_for(view.kind).takes_records:  # records go with it
                    await session.execute(
                        delete(FeedBatchRow).where(FeedBatchRow.feed_uid == view.uid)
                    )
                    await session.execute(
                        delete(FeedResultRow).where(FeedResultRow.feed_uid == view.uid)
                    )
            elif changed:
                values: dict[str, Any] = {
                    "status": status,
                    "resource_version": view.resource_version + 1,
                    "updated_at": now,
                }
                result = await session.execute(update(ObjectRow).where(*guard).values(**values))
            else:
                result = None
            if result is not None and result.rowcount != 1:  # type: ignore[attr-defined]
                outcome.stale.add(view.uid)
                continue
            if plan.remove:
                outcome.removed.add(view.uid)
            elif changed and status is not None:
                outcome.written[view.uid] = (status, view.resource_version + 1)
            if status is not None and run_ended(view.kind, status):
                await end_workload_token(session, view.uid, now=now)
            for note in plan.events:
                await add_event(session, _event_fields(view, note), now=now)
        await session.commit()
    return outcome


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
) -> None:
    """Stores the hashes of workloads' derived tokens, enabled; idempotent, one
    transaction for them all.

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
            await session.commit()
        except IntegrityError:  # another server stored one of them meanwhile: go one by one
            await session.rollback()
            if len(tokens) == 1:
                return
            for token in tokens:
                await ensure_workload_tokens(sessions, [token], user=user, now=now)


async def end_workload_token(session: AsyncSession, uid: str, *, now: datetime) -> None:
    """Revokes the workload token of the object ``uid`` in the caller's transaction (not
    committed here), so it ends together with the status or deletion written beside it.
    Idempotent; nothing happens when the object never had a token."""
    await session.execute(
        update(TokenRow)
        .where(TokenRow.id == workload_token_id(uid), TokenRow.revoked_at.is_(None))
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
