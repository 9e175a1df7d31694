"""Who may do what: pure checks over the caller's roles.

Someone outside a team gets "not found" for its objects, so names never leak; a viewer
gets "forbidden" for writes, since it may already see the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sapwood.schemas import Role
from sapwood.schemas.auth import implied_team
from sapwood.server.services.errors import ForbiddenError, InvalidError, NotFoundError
from sapwood.server.services.workload_scope import WorkloadScope


@dataclass(frozen=True)
class Caller:
    user: str
    admin: bool
    roles: Mapping[str, Role] = field(default_factory=dict)
    token_id: str = ""
    # A workload's own token: what it may call is decided by workload_scope.check_call.
    scope: WorkloadScope | None = None


def can_read(caller: Caller, team: str) -> bool:
    return caller.admin or team in caller.roles


def can_write(caller: Caller, team: str) -> bool:
    return caller.admin or caller.roles.get(team) in (Role.ADMIN, Role.MEMBER)


def can_manage(caller: Caller, team: str) -> bool:
    """Admins of the whole system, or of this team, manage its members."""
    return caller.admin or caller.roles.get(team) is Role.ADMIN


def require_read(caller: Caller, team: str, what: str) -> None:
    if not can_read(caller, team):
        raise NotFoundError(f"{what} not found in team {team}")


def require_write(caller: Caller, team: str, what: str) -> None:
    require_read(caller, team, what)
    if not can_write(caller, team):
        raise ForbiddenError(
            f"you are a {caller.roles.get(team, 'viewer')} of team {team} and cannot change {what}",
            hint="ask a team admin for the member role",
        )


def require_admin(caller: Caller, action: str) -> None:
    if not caller.admin:
        raise ForbiddenError(f"only admins can {action}")


def default_team(caller: Caller) -> str:
    """The team meant when none is named: the caller's only team, else 'default'."""
    implied = implied_team(caller.roles, admin=caller.admin)
    if implied is not None:
        return implied
    teams = sorted(caller.roles)
    if not teams:
        raise InvalidError(f"user {caller.user} belongs to no team", hint="ask an admin to add you")
    raise InvalidError(
        f"you belong to several teams ({', '.join(teams)}): say which one",
        hint="set metadata.team, or pass --team",
    )


def readable_teams(caller: Caller) -> list[str] | None:
    """The teams whose objects the caller sees; None means every team."""
    return None if caller.admin else sorted(caller.roles)
