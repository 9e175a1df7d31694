"""The Slack link page: a signed-in user confirms the link ``/sapwood link`` sent."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sapwood.server.services import slack_links
from sapwood.testing.clock import FakeClock
from tests.integration.dashboard.conftest import Browser, csrf_of
from tests.support import Api

pytestmark = pytest.mark.anyio
TEAM = "T_ACME"


def sessions_of(api: Api) -> async_sessionmaker[AsyncSession]:
    found: async_sessionmaker[AsyncSession] = api.transport.app.state.sapwood.sessions  # type: ignore[attr-defined]
    return found


@pytest.fixture
async def mia(api: Api) -> str:
    """A viewer's token (linking needs no write role)."""
    await api.admin.create_user("mia", teams={"default": "viewer"})
    return (await api.admin.create_token(user="mia")).token


async def start(api: Api, clock: FakeClock, slack_user: str = "U_MIA") -> str:
    async with sessions_of(api)() as session:
        return await slack_links.start_link(session, TEAM, slack_user, now=clock.now())


async def linked_user(api: Api, slack_user: str = "U_MIA") -> str | None:
    async with sessions_of(api)() as session:
        caller = await slack_links.linked_caller(session, TEAM, slack_user)
    return caller.user if caller else None


async def test_a_signed_out_visitor_signs_in_then_confirms(
    api: Api, browser: Browser, clock: FakeClock, mia: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # `sapwood server` quietens httpx process-wide; this test's canary needs it heard.
    caplog.set_level(logging.DEBUG, logger="httpx")
    code = await start(api, clock)
    path = slack_links.link_path(code)
    async with browser() as client:
        away = await client.get(path)
        assert away.status_code == 303
        target = urlsplit(away.headers["location"])
        assert target.path == "/ui/login"
        back = parse_qs(target.query)["next"][0]
        assert back == path
        signed_in = await client.post("/ui/login", data={"token": mia, "next": back})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == path

        question = await client.get(path)
        assert question.status_code == 200
        assert "Link Slack user <code>U_MIA</code> to your Sapwood user <strong>mia</strong>?" in (
            question.text
        )
        assert await linked_user(api) is None  # asking links nothing

        refused = await client.post("/ui/slack/link", data={"code": code})
        assert refused.status_code == 403  # no CSRF token
        assert await linked_user(api) is None

        form = {"csrf": csrf_of(question.text), "code": code}
        done = await client.post("/ui/slack/link", data=form)
        assert done.status_code == 200
        assert "now acts as your Sapwood user <strong>mia</strong>" in done.text
        assert await linked_user(api) == "mia"

        again = await client.post("/ui/slack/link", data=form)
        assert again.status_code == 422
        assert "already used" in again.text
        assert "/sapwood link" in again.text
    # The server logs nothing with the code. httpx is this test's own client: that it is
    # caught logging the URL shows the capture would see the server do the same.
    logged = [(r.name, r.getMessage()) for r in caplog.records if code in r.getMessage()]
    assert logged
    assert [name for name, _ in logged if not name.startswith("httpx")] == []


async def test_an_expired_or_missing_code_says_to_link_again(
    api: Api, browser: Browser, clock: FakeClock, mia: str
) -> None:
    code = await start(api, clock)
    clock.advance(slack_links.LINK_TTL)
    async with browser(mia) as client:
        expired = await client.get(slack_links.link_path(code))
        missing = await client.get("/ui/slack/link")
        form = {"csrf": csrf_of(expired.text), "code": code}
        late = await client.post("/ui/slack/link", data=form)
    assert expired.status_code == 422
    assert "expired" in expired.text
    assert "/sapwood link" in expired.text
    assert "Confirm" not in expired.text
    assert missing.status_code == 422
    assert "has no code" in missing.text
    assert late.status_code == 422
    assert "expired" in late.text
    assert await linked_user(api) is None
