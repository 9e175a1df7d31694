"""Tokens: shown once, stored hashed, expiring and revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sapwood.client import ForbiddenError, NotFoundError, UnauthorizedError
from sapwood.server.store.engine import create_engine, session_factory
from sapwood.server.store.tables import TokenRow
from sapwood.testing.clock import FakeClock
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_secret_is_returned_once_and_stored_only_as_a_hash(
    api: Api, database_url: str
) -> None:
    created = await api.admin.create_token(description="ci")
    assert created.token.startswith(f"sw_{created.id}_")
    listed = {t.id: t for t in await api.admin.list_tokens()}
    assert created.id in listed
    assert "token" not in listed[created.id].model_dump()

    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        rows = list(await session.scalars(select(TokenRow)))
    await engine.dispose()
    secret = created.token.split("_", 2)[2]
    for row in rows:
        assert secret not in row.secret_hash
        assert created.token not in {row.id, row.secret_hash, row.description}


async def test_new_token_works_and_revoked_token_does_not(api: Api) -> None:
    created = await api.admin.create_token()
    client = api.client(created.token)
    assert (await client.whoami()).token_id == created.id
    await api.admin.revoke_token(created.id)
    with pytest.raises(UnauthorizedError, match="revoked"):
        await client.whoami()
    await client.aclose()


async def test_expired_token_is_refused(api: Api, clock: FakeClock) -> None:
    created = await api.admin.create_token(expires_in=timedelta(hours=1))
    client = api.client(created.token)
    assert (await client.whoami()).user == "admin"
    clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(UnauthorizedError, match="expired"):
        await client.whoami()
    await client.aclose()


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer sw_nope", "Basic abc", "Bearer sw_0011223344556677_wrongsecret"],
)
async def test_missing_or_bad_tokens_get_401(api: Api, header: str | None) -> None:
    async with api.http() as http:
        headers = {"Authorization": header} if header else {}
        response = await http.get("/api/v1/jobs", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["hint"]


async def test_users_manage_only_their_own_tokens(api: Api) -> None:
    await api.admin.create_user("ada", teams={"default": "member"})
    ada_token = await api.admin.create_token(user="ada")
    ada = api.client(ada_token.token)
    admin_tokens = await api.admin.list_tokens(user="admin")
    with pytest.raises(NotFoundError):
        await ada.revoke_token(admin_tokens[0].id)
    with pytest.raises(ForbiddenError):
        await ada.create_token(user="admin")
    assert [t.user for t in await ada.list_tokens()] == ["ada"]
    await ada.aclose()


async def test_deleting_a_user_invalidates_their_tokens(api: Api) -> None:
    await api.admin.create_user("ada", teams={"default": "member"})
    token = await api.admin.create_token(user="ada")
    await api.admin.delete_user("ada")
    client = api.client(token.token)
    with pytest.raises(UnauthorizedError):
        await client.whoami()
    await client.aclose()
