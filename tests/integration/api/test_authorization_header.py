"""The API refuses a request with more than one Authorization header, as the gateway does."""

from __future__ import annotations

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("valid_first", [True, False])
async def test_a_repeated_authorization_header_is_401(api: Api, valid_first: bool) -> None:
    values = [f"Bearer {api.admin_token}", "Bearer sw_someone_else"]
    if not valid_first:
        values.reverse()
    async with api.http() as http:
        response = await http.get("/api/v1/whoami", headers=[("Authorization", v) for v in values])
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message == "exactly one Authorization header is allowed; this request has 2"


async def test_one_authorization_header_still_works(api: Api) -> None:
    async with api.http(api.admin_token) as http:
        assert (await http.get("/api/v1/whoami")).status_code == 200
