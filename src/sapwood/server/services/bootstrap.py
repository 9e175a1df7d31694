"""First start: an admin user in a default team, with a token returned once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from sapwood.server.secrets import WORKLOADS_USER
from sapwood.server.services.tokens import issue_bootstrap_token
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MembershipRow, TeamRow, UserRow

ADMIN = "admin"
DEFAULT_TEAM = "default"


async def bootstrap(session: AsyncSession, *, now: datetime) -> str | None:
    """On an empty database, creates the admin and returns its token's secret; else None."""
    if await session.scalar(select(func.count()).select_from(UserRow)):
        return None
    if await session.get(TeamRow, DEFAULT_TEAM) is None:
        session.add(TeamRow(name=DEFAULT_TEAM, created_at=now))
    session.add(UserRow(name=ADMIN, admin=True, created_at=now))
    session.add(UserRow(name=WORKLOADS_USER, admin=False, created_at=now))
    await session.flush()
    session.add(MembershipRow(user=ADMIN, team=DEFAULT_TEAM, role="admin"))
    secret = await issue_bootstrap_token(session, ADMIN, now=now)
    await session.commit()
    return secret
