"""The server with its Slack app on, against a fake Slack on loopback: what a test needs to
send signed commands, submissions and clicks and to see what the app did in Slack.

Fixtures are named apart from tests/conftest.py's (``settings``, ``api``), which the other
Slack tests use with the app off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from sapwood.schemas import Object
from sapwood.server.app import create_app
from sapwood.server.auth.callers import Caller
from sapwood.server.services import slack_links
from sapwood.server.settings import Settings, SlackSettings
from sapwood.server.state import AppState
from sapwood.server.store.tables import ObjectRow, SlackMessageRow
from sapwood.testing.clock import FakeClock
from sapwood.testing.slack_fake import FakeSlack, FakeView, SignedRequest
from tests.support import Api

PUBLIC_URL = "https://sapwood.example.org"
GATEWAY_URL = "https://gw.example.org"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def slack_settings(settings: Settings, slack: FakeSlack, **changes: Any) -> Settings:
    """``settings`` with the Slack app on in HTTP mode, talking to the fake."""
    fields: dict[str, Any] = {
        "bot_token": SecretStr(slack.bot_token),
        "signing_secret": SecretStr(slack.signing_secret),
        "api_url": slack.api_url,
        "public_url": PUBLIC_URL,
        "gateway_url": GATEWAY_URL,
        **changes,
    }
    return settings.model_copy(update={"slack": SlackSettings(**fields)})


@dataclass
class SlackWorld:
    """A running server with the Slack app, the fake Slack, and an HTTP client on the app."""

    api: Api
    slack: FakeSlack
    http: httpx.AsyncClient
    clock: FakeClock

    @property
    def state(self) -> AppState:
        app: FastAPI = self.api.transport.app  # type: ignore[assignment]
        state: AppState = app.state.sapwood
        return state

    async def send(self, request: SignedRequest, *, retry_num: int | None = None) -> httpx.Response:
        return await self.slack.post(self.http, request, retry_num=retry_num)

    async def link(self, slack_user: str, user: str) -> None:
        """Links ``slack_user`` to Sapwood ``user`` as the dashboard page does."""
        async with self.state.sessions() as session:
            now = self.clock.now()
            code = await slack_links.start_link(session, self.slack.team_id, slack_user, now=now)
            person = Caller(user=user, admin=False)
            await slack_links.confirm_link(session, person, code, now=now)

    async def command(
        self, slack_user: str, text: str, *, channel: str = "C_GENERAL"
    ) -> httpx.Response:
        response = await self.send(self.slack.command_request(slack_user, text, channel=channel))
        assert response.status_code == 200, response.text
        return response

    async def open_form(self, slack_user: str, *, channel: str = "C_GENERAL") -> FakeView:
        """``/sapwood env create``, then the modal once the app has filled it."""
        before = set(self.slack.views)
        await self.command(slack_user, "env create", channel=channel)

        def filled() -> FakeView | None:
            for view_id, view in self.slack.views.items():
                if view_id not in before and view.user == slack_user and len(view.history) > 1:
                    return view
            return None

        return await self.slack.wait_for(filled, what=f"the env create form of {slack_user}")

    async def submit(
        self,
        slack_user: str,
        view: FakeView,
        answers: Mapping[str, Any],
        *,
        retry_num: int | None = None,
    ) -> httpx.Response:
        values = self.slack.form_values(view.id, answers)
        request = self.slack.view_submission_request(slack_user, view.id, values)
        return await self.send(request, retry_num=retry_num)

    async def workspaces(self) -> list[Object]:
        return list(await self.api.admin.list("Workspace"))

    async def count(self, table: type[Any]) -> int:
        async with self.state.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)

    async def objects(self) -> int:
        return await self.count(ObjectRow)

    async def tracked(self) -> int:
        return await self.count(SlackMessageRow)


@pytest.fixture
async def slack_world(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> AsyncIterator[SlackWorld]:
    """The server with the Slack app on (HTTP mode) and teams: research (alice and bob
    members, vic a viewer), ops (carol a member); Slack users U_ALICE, U_BOB, U_VIC linked."""
    tokens: list[str] = []
    app = create_app(slack_settings(settings, fake_slack), clock=clock, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        admin = api.admin
        for team in ("research", "ops"):
            await admin.create_team(team)
        await admin.create_user("alice", teams={"research": "member"})
        await admin.create_user("bob", teams={"research": "member"})
        await admin.create_user("vic", teams={"research": "viewer"})
        await admin.create_user("carol", teams={"ops": "member"})
        async with api.http() as http:
            world = SlackWorld(api=api, slack=fake_slack, http=http, clock=clock)
            for user in ("alice", "bob", "vic"):
                await world.link(f"U_{user.upper()}", user)
            yield world
        await admin.aclose()
