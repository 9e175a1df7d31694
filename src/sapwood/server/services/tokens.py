"""Tokens: create (secret returned once), list, revoke; and authenticating a request
(through auth/tokens.py's check, the one the gateway makes too)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from sapwood.schemas import Token, TokenCreated, TokenRequest
from sapwood.server.auth.tokens import Refused, check_token
from sapwood.server.auth.tokens import many_authorizations as many_authorizations
from sapwood.server.secrets import new_token
from sapwood.server.services.access import Caller, require_admin
from sapwood.server.services.convert import row_to_token
from sapwood.server.services.dashboard_sessions import parent_of, session_description
from sapwood.server.services.errors import ConflictError, NotFoundError, UnauthorizedError
from sapwood.server.services.teams import require_changeable
from sapwood.server.services.workload_scope import ApiCall, check_call
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import TokenRow, UserRow

# last_used_at is advisory: writing it on every request would serialise SQLite writers.
LAST_USED_GRAIN = timedelta(minutes=1)


def single_authorization(values: Sequence[str]) -> str | None:
    """The request's one Authorization header value (None when there is none);
    UnauthorizedError when it is repeated."""
    if len(values) > 1:
        raise UnauthorizedError(many_authorizations(len(values)))
    return values[0] if values else None


async def authenticate(
    session: AsyncSession, header: str | None, *, now: datetime, call: ApiCall | None = None
) -> Caller:
    """The caller behind an ``Authorization: Bearer`` header, or UnauthorizedError.

    The token is checked as the gateway checks it (auth/tokens.py). A workload's own token
    is accepted only for a ``call`` its scope allows (NotFoundError or ForbiddenError
    otherwise, see workload_scope): with no ``call`` (the dashboard's sign-in), never.
    """
    check = await check_token(session, header, now=now)
    if isinstance(check, Refused):
        hint = check.hint or "pass a token: `sapwood login --token …`, or SAPWOOD_TOKEN"
        raise UnauthorizedError(check.reason, hint=hint)
    caller = check.caller
    if check.last_used_at is None or now - check.last_used_at > LAST_USED_GRAIN:
        await session.execute(
            update(TokenRow).where(TokenRow.id == caller.token_id).values(last_used_at=now)
        )
        await session.commit()
    if caller.scope is None:
        return caller
    if call is None:
        raise UnauthorizedError(
            f"this token belongs to the workload {caller.scope} and works only for its own "
            "API calls",
            hint="sign in with a user's token",
        )
    check_call(caller.scope, call)
    return caller


async def create_token(
    session: AsyncSession, caller: Caller, request: TokenRequest, *, now: datetime
) -> TokenCreated:
    user = request.user or caller.user
    if user != caller.user:
        require_admin(caller, "create tokens for other users")
    require_changeable(user)
    if await session.get(UserRow, user) is None:
        raise NotFoundError(f"user {user} not found")
    token = new_token()
    row = TokenRow(
        id=token.id,
        user=user,
        secret_hash=token.secret_hash,
        description=request.description,
        created_at=now,
        expires_at=now + request.expires_in if request.expires_in else None,
    )
    session.add(row)
    await session.commit()
    return TokenCreated(**row_to_token(row).model_dump(), token=token.token)


async def list_tokens(session: AsyncSession, caller: Caller, *, user: str | None) -> list[Token]:
    """The caller's own tokens; an admin may name a user, or see everyone's."""
    query = select(TokenRow).order_by(TokenRow.created_at, TokenRow.id)
    if user is not None and user != caller.user:
        require_admin(caller, "list other users' tokens")
        query = query.where(TokenRow.user == user)
    elif user is not None or not caller.admin:
        query = query.where(TokenRow.user == caller.user)
    return [row_to_token(r) for r in await session.scalars(query)]


async def revoke_token(
    session: AsyncSession, caller: Caller, token_id: str, *, now: datetime
) -> None:
    """Idempotent for a token already revoked. Revokes the dashboard sessions signed in
    with it too. ConflictError when the caller would revoke their own last admin token: no
    one could administer the server any more (``sapwood server --reset-admin-token``
    recovers from that, with access to the server's machine)."""
    row = await session.get(TokenRow, token_id)
    if row is None or (row.user != caller.user and not caller.admin):
        raise NotFoundError(f"token {token_id} not found")
    if row.revoked_at is None:
        if caller.admin and row.user == caller.user:
            others = await count_admin_tokens(session, now=now, besides=row.id)
            if locks_out(row, now=now, other_admin_tokens=others):
                raise ConflictError(
                    f"token {token_id} is the last valid admin token: revoking it would lock "
                    "everyone out of administering this server",
                    hint="create another admin token first (`sapwood token create`), "
                    "then revoke this one with it",
                )
        row.revoked_at = now
        await session.execute(
            update(TokenRow)
            .where(
                TokenRow.user == row.user,
                TokenRow.description == session_description(row.id),
                TokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        await session.commit()


def is_admin_credential(row: TokenRow, *, now: datetime) -> bool:
    """Whether ``row`` lets someone administer the server for more than a sign-in: valid,
    not a workload's token, not a dashboard session (those end on their own)."""
    return (
        row.revoked_at is None
        and (row.expires_at is None or row.expires_at > now)
        and row.scope is None
        and parent_of(row.description) is None
    )


def locks_out(row: TokenRow, *, now: datetime, other_admin_tokens: int) -> bool:
    """Whether revoking ``row`` (a token of an admin) leaves no admin token at all."""
    return other_admin_tokens == 0 and is_admin_credential(row, now=now)


async def count_admin_tokens(session: AsyncSession, *, now: datetime, besides: str) -> int:
    """How many admin credentials (``is_admin_credential``) of admin users there are,
    not counting token ``besides``."""
    rows = await session.scalars(
        select(TokenRow)
        .join(UserRow, UserRow.name == TokenRow.user)
        .where(UserRow.admin.is_(True), TokenRow.revoked_at.is_(None), TokenRow.id != besides)
    )
    return sum(1 for r in rows if is_admin_credential(r, now=now))


async def issue_bootstrap_token(session: AsyncSession, user: str, *, now: datetime) -> str:
    """A token for a user created by the server itself; returns the secret."""
    token = new_token()
    session.add(
        TokenRow(
            id=token.id,
            user=user,
            secret_hash=token.secret_hash,
            description="created at first start",
            created_at=now,
        )
    )
    return token.token
