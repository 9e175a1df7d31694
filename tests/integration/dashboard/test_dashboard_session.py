"""Dashboard sessions: a token of their own, revoked at sign-out; forms from no origin refused."""

from __future__ import annotations

import httpx
import pytest

from sapwood.server.dashboard.session import COOKIE
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_signing_in_from_a_page_with_no_origin_is_refused(api: Api) -> None:
    async with httpx.AsyncClient(transport=api.transport, base_url="http://sapwood.test") as http:
        response = await http.post(
            "/ui/login",
            data={"token": api.admin_token, "next": "/"},
            headers={"Origin": "null"},
        )
    assert response.status_code == 403
    assert "Origin: null" in response.text
    assert "set-cookie" not in response.headers


async def test_a_copied_cookie_stops_working_after_sign_out(api: Api, browser: Browser) -> None:
    async with browser(api.admin_token) as client:
        copied = client.cookies[COOKIE]
        assert copied != api.admin_token  # the cookie never holds the token typed in
        csrf = csrf_of((await client.get("/")).text)
        assert (await client.post("/ui/logout", data={"csrf": csrf})).status_code == 303
    async with httpx.AsyncClient(
        transport=api.transport, base_url="http://sapwood.test", cookies={COOKIE: copied}
    ) as thief:
        response = await thief.get("/ui/workloads")
    assert response.status_code == 303
    assert "expired=1" in response.headers["location"]
    # The token signed in with is not revoked: the CLI that uses it keeps working.
    async with api.http(api.admin_token) as http:
        assert (await http.get("/api/v1/whoami")).status_code == 200


async def test_a_session_is_listed_as_a_token_of_the_user(api: Api, browser: Browser) -> None:
    async with browser(api.admin_token) as client:
        assert (await client.get("/")).status_code == 200
    sessions = [t for t in await api.admin.list_tokens() if "dashboard session" in t.description]
    assert len(sessions) == 1
    assert sessions[0].expires_at is not None
