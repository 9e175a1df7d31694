"""Recovery from a lockout: a fresh admin token, made by someone with the server's store.

`sapwood server --reset-admin-token` calls ``reset_admin_token_in`` on the machine that
holds SAPWOOD_HOME (or the database URL): having the store is the proof of authority, as
having the first start's output is. Nothing else about users or tokens changes, except
that an admin user is made (or the bootstrap admin promoted back) when none is left.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sapwood.server.secrets import new_token
from sapwood.server.services.bootstrap import ADMIN, bootstrap
from sapwood.server.settings import Settings
from sapwood.server.store import migrate
from sapwood.server.store.engine import AsyncSession, create_engine, session_factory
from sapwood.server.store.tables import TokenRow, UserRow

DESCRIPTION = "created by sapwood server --reset-admin-token"


@dataclass(frozen=True)
class AdminReset:
    user: str
    token: str  # the secret: shown once
    made_admin: bool  # no admin was left: ``user`` was created or made one


async def reset_admin_token(session: AsyncSession, *, now: datetime) -> AdminReset:
    """A new token for an admin user (``admin`` if it is one, else the first by name).

    On an empty store this is the first start's bootstrap. When no admin user is left,
    ``admin`` is created, or made an admin again.
    """
    secret = await bootstrap(session, now=now)
    if secret is not None:
        return AdminReset(ADMIN, secret, made_admin=True)
    admins = list(await session.scalars(select(UserRow.name).where(UserRow.admin.is_(True))))
    made_admin = not admins
    if made_admin:
        row = await session.get(UserRow, ADMIN)
        if row is None:
            session.add(UserRow(name=ADMIN, admin=True, created_at=now))
        else:
            row.admin = True
        user = ADMIN
    else:
        user = ADMIN if ADMIN in admins else sorted(admins)[0]
    token = new_token()
    await session.flush()
    session.add(
        TokenRow(
            id=token.id,
            user=user,
            secret_hash=token.secret_hash,
            description=DESCRIPTION,
            created_at=now,
        )
    )
    await session.commit()
    return AdminReset(user, token.token, made_admin=made_admin)


async def reset_admin_token_in(settings: Settings, *, now: datetime) -> AdminReset:
    """``reset_admin_token`` on the store of ``settings`` (migrated first, as at start)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await reset_admin_token(session, now=now)
    finally:
        await engine.dispose()
