"""The gateway and the API check a token the same way (server/auth/tokens.py): the same
caller for a token that passes, the same message for one that does not."""

from __future__ import annotations

import pytest

from sapwood.server.auth.callers import Caller
from sapwood.server.gateway.auth import TokenAuth
from sapwood.testing.clock import FakeClock
from tests.support import Api

pytestmark = pytest.mark.anyio


def _gateway(api: Api, clock: FakeClock) -> TokenAuth:
    engine = api.transport.app.state.sapwood.engine  # type: ignore[attr-defined]
    return TokenAuth(engine, now=clock.now, monotonic=lambda: 0.0, ttl_s=0.0)


async def _api_refusal(api: Api, token: str) -> str:
    async with api.http(token) as http:
        response = await http.get("/api/v1/whoami")
    assert response.status_code == 401
    message: str = response.json()["error"]["message"]
    return message


async def test_a_member_is_the_same_caller_at_both_doors(api: Api, clock: FakeClock) -> None:
    await api.admin.create_user("ada", teams={"default": "member"})
    token = (await api.admin.create_token(user="ada")).token
    caller = await _gateway(api, clock).check(f"Bearer {token}".encode())
    assert isinstance(caller, Caller)
    whoami = await api.client(token).whoami()
    assert (caller.user, caller.admin) == (whoami.user, whoami.admin)
    assert {team: role.value for team, role in caller.roles.items()} == {"default": "member"}


async def test_revoked_unknown_and_malformed_tokens_are_refused_alike(
    api: Api, clock: FakeClock
) -> None:
    await api.admin.create_user("ada", teams={"default": "member"})
    created = await api.admin.create_token(user="ada")
    await api.admin.revoke_token(created.id)
    unknown = created.token[:-4] + "xxxx"  # the right id, the wrong secret
    gateway = _gateway(api, clock)
    for token in (created.token, unknown):
        refusal = await gateway.check(f"Bearer {token}".encode())
        assert refusal == await _api_refusal(api, token)
    refusal = await gateway.check(b"Bearer not-a-token")
    assert isinstance(refusal, str)
    assert refusal.startswith(await _api_refusal(api, "not-a-token"))
