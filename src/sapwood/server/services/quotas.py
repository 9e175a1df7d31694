"""Team quotas (admins set them) and the queue of waiting work (anyone reads their teams')."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from sapwood.schemas import Amounts, Limits, Phase, QueueEntry, Quota, QuotaRequest
from sapwood.server.services.access import Caller, readable_teams, require_admin, require_read
from sapwood.server.services.errors import NotFoundError
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import ObjectRow, QuotaRow, TeamRow


def row_to_quota(row: QuotaRow) -> Quota:
    return Quota(
        team=row.team,
        guaranteed=Amounts.model_validate(row.guaranteed),
        max=Limits.model_validate(row.max) if row.max is not None else None,
        weight=row.weight,
        updated_at=row.updated_at,
    )


async def list_quotas(session: AsyncSession, caller: Caller) -> list[Quota]:
    query = select(QuotaRow).order_by(QuotaRow.team)
    visible = readable_teams(caller)
    if visible is not None:
        query = query.where(QuotaRow.team.in_(visible))
    return [row_to_quota(r) for r in await session.scalars(query)]


async def set_quota(
    session: AsyncSession, caller: Caller, team: str, request: QuotaRequest, *, now: datetime
) -> Quota:
    """Creates or replaces the team's quota. Idempotent."""
    require_admin(caller, "set quotas")
    if await session.get(TeamRow, team) is None:
        raise NotFoundError(f"team {team} not found")
    guaranteed = request.guaranteed.model_dump(mode="json")
    cap = request.max.model_dump(mode="json") if request.max is not None else None
    row = await session.get(QuotaRow, team)
    if row is None:
        row = QuotaRow(team=team, guaranteed=guaranteed, max=cap, weight=request.weight)
        session.add(row)
    else:
        row.guaranteed, row.max, row.weight = guaranteed, cap, request.weight
    row.updated_at = now
    await session.commit()
    return row_to_quota(row)


async def delete_quota(session: AsyncSession, caller: Caller, team: str) -> None:
    require_admin(caller, "delete quotas")
    row = await session.get(QuotaRow, team)
    if row is None:
        raise NotFoundError(f"team {team} has no quota")
    await session.delete(row)
    await session.commit()


async def list_queue(
    session: AsyncSession, caller: Caller, *, team: str | None
) -> list[QueueEntry]:
    """Waiting objects in the order the scheduler considers them, with the reason each waits."""
    query = select(ObjectRow).where(ObjectRow.deletion_timestamp.is_(None))
    if team is not None:
        require_read(caller, team, "the queue")
        query = query.where(ObjectRow.team == team)
    elif (visible := readable_teams(caller)) is not None:
        query = query.where(ObjectRow.team.in_(visible))
    entries = []
    for row in await session.scalars(query):
        if row.status.get("phase") != Phase.PENDING:
            continue
        entries.append(
            QueueEntry(
                position=int(row.status.get("queuePosition") or 0),
                kind=row.kind,
                team=row.team,
                name=row.name,
                priority=str(row.spec.get("priority", "normal")),
                reason=str(row.status.get("message") or "not yet considered by the scheduler"),
                waiting_since=row.created_at,
            )
        )
    # Not yet considered (position 0) go last, in creation order.
    return sorted(entries, key=lambda e: (e.position == 0, e.position, e.waiting_since))
