"""Teams, users and their memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sapwood.schemas import Membership, Role, Team, User, UserRequest, WhoAmI
from sapwood.server.secrets import WORKLOADS_USER
from sapwood.server.services.access import Caller, can_manage, readable_teams, require_admin
from sapwood.server.services.convert import row_to_team
from sapwood.server.services.errors import ConflictError, ForbiddenError, NotFoundError
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MembershipRow, ObjectRow, TeamRow, UserRow


def whoami(caller: Caller) -> WhoAmI:
    teams = [Membership(team=t, role=r) for t, r in sorted(caller.roles.items())]
    return WhoAmI(user=caller.user, admin=caller.admin, teams=teams, token_id=caller.token_id)


async def list_teams(session: AsyncSession, caller: Caller) -> list[Team]:
    query = select(TeamRow).order_by(TeamRow.name)
    visible = readable_teams(caller)
    if visible is not None:
        query = query.where(TeamRow.name.in_(visible))
    return [row_to_team(r) for r in await session.scalars(query)]


async def create_team(session: AsyncSession, caller: Caller, name: str, *, now: datetime) -> Team:
    require_admin(caller, "create teams")
    if await session.get(TeamRow, name) is not None:
        raise ConflictError(f"team {name} already exists")
    row = TeamRow(name=name, created_at=now)
    session.add(row)
    await _commit(session, f"team {name} already exists")
    return row_to_team(row)


async def delete_team(session: AsyncSession, caller: Caller, name: str) -> None:
    require_admin(caller, "delete teams")
    row = await session.get(TeamRow, name)
    if row is None:
        raise NotFoundError(f"team {name} not found")
    count = await session.scalar(select(func.count()).where(ObjectRow.team == name))
    if count:
        raise ConflictError(
            f"team {name} still owns {count} object(s)", hint="delete them first, then the team"
        )
    await session.delete(row)
    await session.commit()


async def list_users(session: AsyncSession, caller: Caller) -> list[User]:
    require_admin(caller, "list users")
    users = list(await session.scalars(select(UserRow).order_by(UserRow.name)))
    memberships = await session.scalars(select(MembershipRow))
    by_user: dict[str, list[Membership]] = {}
    for m in memberships:
        by_user.setdefault(m.user, []).append(Membership(team=m.team, role=Role(m.role)))
    return [_user(u, by_user.get(u.name, [])) for u in users]


async def create_user(
    session: AsyncSession, caller: Caller, request: UserRequest, *, now: datetime
) -> User:
    require_admin(caller, "create users")
    if await session.get(UserRow, request.name) is not None:
        raise ConflictError(f"user {request.name} already exists")
    for m in request.teams:
        await _require_team(session, m.team)
    row = UserRow(name=request.name, admin=request.admin, created_at=now)
    session.add(row)
    await session.flush()
    for m in request.teams:
        session.add(MembershipRow(user=request.name, team=m.team, role=m.role.value))
    await _commit(session, f"user {request.name} already exists")
    return _user(row, sorted(request.teams, key=lambda m: m.team))


async def delete_user(session: AsyncSession, caller: Caller, name: str) -> None:
    require_admin(caller, "delete users")
    require_changeable(name)
    if name == caller.user:
        raise ForbiddenError("you cannot delete yourself", hint="ask another admin")
    row = await session.get(UserRow, name)
    if row is None:
        raise NotFoundError(f"user {name} not found")
    await session.delete(row)
    await session.commit()


async def set_membership(
    session: AsyncSession, caller: Caller, user: str, team: str, role: Role
) -> Membership:
    """Adds the user to the team, or changes their role there. Idempotent."""
    _require_manage(caller, team)
    require_changeable(user)
    await _require_team(session, team)
    if await session.get(UserRow, user) is None:
        raise NotFoundError(f"user {user} not found")
    row = await session.get(MembershipRow, (user, team))
    if row is None:
        session.add(MembershipRow(user=user, team=team, role=role.value))
    else:
        row.role = role.value
    await session.commit()
    return Membership(team=team, role=role)


async def remove_membership(session: AsyncSession, caller: Caller, user: str, team: str) -> None:
    _require_manage(caller, team)
    require_changeable(user)
    row = await session.get(MembershipRow, (user, team))
    if row is None:
        raise NotFoundError(f"user {user} is not in team {team}")
    await session.delete(row)
    await session.commit()


def require_changeable(user: str) -> None:
    """ForbiddenError for Sapwood's own workload user: the controller gives workloads their
    tokens as that user, and it must stay in no team and with no other tokens."""
    if user == WORKLOADS_USER:
        raise ForbiddenError(
            f"user {WORKLOADS_USER} is Sapwood's own (it holds the tokens workloads get for "
            "their own objects): it cannot be deleted, changed or given tokens"
        )


def _require_manage(caller: Caller, team: str) -> None:
    if not can_manage(caller, team):
        if team not in caller.roles:
            raise NotFoundError(f"team {team} not found")
        raise ForbiddenError(f"only admins of team {team} can manage its members")


async def _require_team(session: AsyncSession, team: str) -> None:
    if await session.get(TeamRow, team) is None:
        raise NotFoundError(f"team {team} not found", hint="create it with `sapwood teams create`")


async def _commit(session: AsyncSession, conflict: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ConflictError(conflict) from None


def _user(row: UserRow, teams: list[Membership]) -> User:
    return User(name=row.name, admin=row.admin, teams=teams, created_at=row.created_at)
