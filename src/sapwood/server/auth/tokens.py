"""The one token check: the caller behind an ``Authorization: Bearer`` value, or why not.

The API (services/tokens.py ``authenticate``) and the gateway (gateway/auth.py) both ask
here, so a token means the same at both doors: the same secret check, the same messages
for a revoked, expired or unknown token, and a workload's token only while its object
exists. It only reads the store; what each door adds (the API notes when a token was last
used and which calls a workload token may make; the gateway caches verdicts and rides out
an outage of the store) stays with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sapwood.schemas import Role
from sapwood.server.auth.callers import Caller
from sapwood.server.auth.scope import WorkloadScope, models_named
from sapwood.server.secrets import secret_matches, split_token, workload_token_id
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import MembershipRow, ObjectRow, TokenRow, UserRow


@dataclass(frozen=True)
class Admitted:
    """A token that passed: its caller, when it expires (None: never), and when it was
    last noted as used (None: never)."""

    caller: Caller
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class Refused:
    """Why a token is refused (a 401's message), and a hint when there is a better one
    than "pass a valid token"."""

    reason: str
    hint: str | None = None


TokenCheck = Admitted | Refused


def many_authorizations(count: int) -> str:
    """The 401 message for a request with ``count`` (more than one) Authorization headers.

    The API and the gateway both refuse such a request rather than pick one: proxies and
    frameworks disagree on which copy wins, so a second header could smuggle a token past
    one of them.
    """
    return f"exactly one Authorization header is allowed; this request has {count}"


async def check_token(session: AsyncSession, header: str | None, *, now: datetime) -> TokenCheck:
    """The caller behind an ``Authorization`` header value, or why it is refused.

    A workload's token is a viewer of its object's team carrying its ``scope`` (what it may
    call is for the API's workload_scope to decide), and only while that object exists.
    """
    if not header:
        return Refused("missing bearer token")
    scheme, _, token = header.partition(" ")
    parts = split_token(token.strip()) if scheme.lower() == "bearer" else None
    if parts is None:
        return Refused("malformed bearer token")
    # The token, its user and the user's teams in one query: every API request pays for
    # this, and each round trip to the store costs more than the rows it brings.
    found = (
        await session.execute(
            select(TokenRow, UserRow.admin, MembershipRow.team, MembershipRow.role)
            .join(UserRow, UserRow.name == TokenRow.user)
            .outerjoin(MembershipRow, MembershipRow.user == TokenRow.user)
            .where(TokenRow.id == parts[0])
        )
    ).all()
    row = found[0][0] if found else None
    if row is None or not secret_matches(parts[1], row.secret_hash):
        return Refused("unknown token")
    if row.revoked_at is not None:
        return Refused(_revoked(row))
    if row.expires_at is not None and row.expires_at <= now:
        return Refused(f"this token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC")
    if row.scope is not None:
        return await _workload_caller(session, row)
    roles = {team: Role(role) for _, _, team, role in found if team is not None}
    caller = Caller(user=row.user, admin=found[0][1], roles=roles, token_id=row.id)
    return Admitted(caller, row.expires_at, row.last_used_at)


def _revoked(row: TokenRow) -> str:
    if row.scope is None:
        return "this token was revoked"
    return (
        f"this token of the workload {row.scope} was revoked: its run ended "
        "(a workload's token ends when its Job finishes or its object is deleted)"
    )


async def _workload_caller(session: AsyncSession, row: TokenRow) -> TokenCheck:
    """The caller for a workload token, if its object still exists."""
    assert row.scope is not None
    scope = WorkloadScope.parse(row.scope)
    obj = await session.scalar(
        select(ObjectRow).where(
            ObjectRow.kind == scope.kind, ObjectRow.team == scope.team, ObjectRow.name == scope.name
        )
    )
    # The token is derived from the object's uid: one of a deleted object that was created
    # again under the same name does not carry over to the new one.
    if obj is None or workload_token_id(obj.uid) != row.id or obj.deletion_timestamp is not None:
        return Refused(
            f"this token's workload {scope} is gone: its object was deleted",
            hint="a workload's token lasts as long as its object",
        )
    scope = WorkloadScope.parse(row.scope, models=models_named(obj.kind, obj.spec))
    roles = {scope.team: Role.VIEWER}
    caller = Caller(row.user, admin=False, roles=roles, token_id=row.id, scope=scope)
    return Admitted(caller, row.expires_at, row.last_used_at)
