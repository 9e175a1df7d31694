"""The caller behind a token, and what its roles let it read and write: pure, shared by
the API's services and the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sapwood.schemas import Role
from sapwood.server.auth.scope import WorkloadScope


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
