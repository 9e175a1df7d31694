"""Who may do what: pure checks over the caller's roles (the caller and its plain
predicates are sapwood.server.auth.callers, shared with the gateway).

Someone outside a team gets "not found" for its objects, so names never leak; a viewer
gets "forbidden" for writes, since it may already see the object.
"""

from __future__ import annotations

from sapwood.schemas.auth import implied_team
from sapwood.server.auth.callers import Caller as Caller
from sapwood.server.auth.callers import can_manage as can_manage
from sapwood.server.auth.callers import can_read as can_read
from sapwood.server.auth.callers import can_write as can_write
from sapwood.server.services.errors import ForbiddenError, InvalidError, NotFoundError


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
