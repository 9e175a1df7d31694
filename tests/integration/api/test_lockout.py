"""No one locks everyone out: the last admin token and the workload user are kept."""

from __future__ import annotations

import pytest

from sapwood.client import ConflictError, ForbiddenError
from sapwood.server.secrets import WORKLOADS_USER
from tests.support import Api

pytestmark = pytest.mark.anyio


async def own_token_id(api: Api) -> str:
    """The id of the admin token made at first start (``sw_<id>_<secret>``)."""
    return api.admin_token.split("_")[1]


async def test_the_last_admin_token_cannot_be_revoked_by_its_holder(api: Api) -> None:
    token_id = await own_token_id(api)
    with pytest.raises(ConflictError) as refused:
        await api.admin.revoke_token(token_id)
    assert "last valid admin token" in refused.value.message
    assert "lock everyone out" in refused.value.message
    assert (await api.admin.whoami()).admin  # still works


async def test_an_admin_with_another_token_may_revoke_this_one(api: Api) -> None:
    token_id = await own_token_id(api)
    spare = await api.admin.create_token(description="spare")
    await api.admin.revoke_token(token_id)
    assert (await api.client(spare.token).whoami()).admin


async def test_a_dashboard_session_does_not_count_as_another_admin_token(api: Api) -> None:
    async with api.http() as http:
        signed_in = await http.post("/ui/login", data={"token": api.admin_token, "next": "/"})
    assert signed_in.status_code == 303
    with pytest.raises(ConflictError):
        await api.admin.revoke_token(await own_token_id(api))


@pytest.mark.parametrize("change", ["delete", "membership", "token"])
async def test_the_workload_user_cannot_be_changed(api: Api, change: str) -> None:
    calls = {
        "delete": lambda: api.admin.delete_user(WORKLOADS_USER),
        "membership": lambda: api.admin.set_membership(WORKLOADS_USER, "default", "member"),
        "token": lambda: api.admin.create_token(user=WORKLOADS_USER),
    }
    with pytest.raises(ForbiddenError) as refused:
        await calls[change]()
    assert f"user {WORKLOADS_USER} is Sapwood's own" in refused.value.message
    assert WORKLOADS_USER in {u.name for u in await api.admin.list_users()}
