"""Dashboard sessions: each sign-in gets a token of its own, and sign-out revokes it.

The dashboard's cookie never holds the token the user typed in (often the one their CLI
uses): it holds a session token made for that sign-in, for the same user and scope,
expiring after the session's lifetime (or with the token signed in with, if sooner). Sign-out
revokes it on the server, so a copied cookie stops working. Its description names the token
it was signed in with; revoking that token revokes its sessions too (``tokens.revoke_token``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sapwood.server.secrets import new_token
from sapwood.server.services.errors import UnauthorizedError
from sapwood.server.store.engine import AsyncSession
from sapwood.server.store.tables import TokenRow

SESSION_MARK = "dashboard session of token "


def session_description(parent_id: str) -> str:
    """The description of a session token signed in with token ``parent_id``."""
    return SESSION_MARK + parent_id


def parent_of(description: str) -> str | None:
    """The id of the token a session was signed in with; None for a token that is not a
    dashboard session."""
    if not description.startswith(SESSION_MARK):
        return None
    return description.removeprefix(SESSION_MARK) or None


async def start_session(
    session: AsyncSession, token_id: str, *, now: datetime, ttl: timedelta
) -> str:
    """A new session token (the secret, for the cookie) for the user of ``token_id``, which
    was just authenticated. Signing in with a session token links the new one to the
    token that session came from, so revoking that token ends both."""
    parent = await session.get(TokenRow, token_id)
    if parent is None:  # pragma: no cover - authenticated a moment ago
        raise UnauthorizedError("unknown token")
    expires_at = now + ttl
    if parent.expires_at is not None and parent.expires_at < expires_at:
        expires_at = parent.expires_at
    token = new_token()
    session.add(
        TokenRow(
            id=token.id,
            user=parent.user,
            secret_hash=token.secret_hash,
            description=session_description(parent_of(parent.description) or parent.id),
            created_at=now,
            expires_at=expires_at,
            scope=parent.scope,
        )
    )
    await session.commit()
    return token.token


async def end_session(session: AsyncSession, token_id: str, *, now: datetime) -> bool:
    """Revokes the session token ``token_id``; idempotent. Returns False (and revokes
    nothing) when it is not a dashboard session: a cookie from before sessions had tokens
    of their own holds the user's own token, which sign-out must not revoke."""
    row = await session.get(TokenRow, token_id)
    if row is None or parent_of(row.description) is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now
        await session.commit()
    return True
