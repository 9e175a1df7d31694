"""Who is calling: bearer tokens checked against the store, cached for a few seconds.

The checks are those of the API (services/tokens.py) without its writes: the gateway
only reads the store. A revoked token keeps working for at most ``ttl_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from sapwood.schemas import Role
from sapwood.server.secrets import secret_matches, split_token
from sapwood.server.services.access import Caller
from sapwood.server.store.engine import session_factory
from sapwood.server.store.tables import MembershipRow, TokenRow, UserRow

Outcome = Caller | str
"""The caller, or why the token was refused (the message of a 401)."""


class TokenAuth:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        ttl_s: float = 5.0,
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = session_factory(engine)
        self._now = now
        self._monotonic = monotonic
        self.ttl_s = ttl_s
        self._max_entries = max_entries
        self._cache: dict[bytes, tuple[float, Outcome]] = {}
        self._pending: dict[bytes, asyncio.Future[Outcome]] = {}

    async def check(self, header: bytes | None) -> Outcome:
        """The caller behind an ``Authorization`` header value, or the reason it is refused."""
        if not header:
            return "missing bearer token: send Authorization: Bearer sw_…"
        cached = self._cache.get(header)
        if cached is not None and cached[0] > self._monotonic():
            return cached[1]
        pending = self._pending.get(header)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[header] = future
        try:
            outcome = await self._lookup(header)
            future.set_result(outcome)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so no "never retrieved" warning
            raise
        finally:
            del self._pending[header]
        if len(self._cache) >= self._max_entries:
            self._cache.clear()
        self._cache[header] = (self._monotonic() + self.ttl_s, outcome)
        return outcome

    async def _lookup(self, header: bytes) -> Outcome:
        scheme, _, token = header.decode("latin-1").partition(" ")
        parts = split_token(token.strip()) if scheme.lower() == "bearer" else None
        if parts is None:
            return "malformed bearer token: send Authorization: Bearer sw_…"
        async with self._sessions() as session:
            row = await session.get(TokenRow, parts[0])
            if row is None or not secret_matches(parts[1], row.secret_hash):
                return "unknown token"
            if row.revoked_at is not None:
                return "this token was revoked"
            if row.expires_at is not None and row.expires_at <= self._now():
                return f"this token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC"
            user = await session.get(UserRow, row.user)
            if user is None:
                return "unknown token"
            if row.scope is not None:
                team = row.scope.split("/")[1]
                return Caller(user.name, admin=False, roles={team: Role.VIEWER}, token_id=row.id)
            memberships = await session.scalars(
                select(MembershipRow).where(MembershipRow.user == user.name)
            )
            roles = {m.team: Role(m.role) for m in memberships}
            return Caller(user=user.name, admin=user.admin, roles=roles, token_id=row.id)
