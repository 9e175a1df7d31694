"""The receivers here listen on loopback: the server is told to allow it, as an admin would.
The Slack app's channels post to a fake Slack (tests/integration/notifications/slack_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from sapwood.server.app import create_app
from sapwood.server.observe.notifier import Notifier
from sapwood.server.observe.slack_posts import web_client
from sapwood.server.settings import NotificationSettings, Settings
from sapwood.server.state import AppState
from sapwood.testing.clock import FakeClock
from sapwood.testing.slack_fake import FakeSlack
from tests.integration.notifications.slack_support import TEAM, SlackSetup, slack_settings
from tests.support import Api

LOOPBACK = ("127.0.0.1/32",)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    allow = NotificationSettings(webhook_allow=LOOPBACK)
    return settings.model_copy(update={"notifications": allow})


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def slack_setup(
    settings: Settings, clock: FakeClock, slack: FakeSlack
) -> AsyncIterator[SlackSetup]:
    configured = slack_settings(settings, slack)
    tokens: list[str] = []
    app = create_app(configured, clock=clock, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        state: AppState = app.state.sapwood
        notifier = Notifier(state.sessions, clock, slack=web_client(configured.slack))
        state.notifier = notifier  # the channel test endpoint uses it too
        admin = api.admin
        await admin.create_team(TEAM)
        users = {"alice": "member", "bob": "member", "val": "viewer"}
        secrets = {"admin": api.admin_token}
        for user, role in users.items():
            await admin.create_user(user, teams={TEAM: role})
            secrets[user] = (await admin.create_token(user=user)).token
        setup = SlackSetup(api, slack, clock, notifier, secrets)
        await setup.link("alice", "U_ALICE")
        await setup.link("val", "U_VAL")
        try:
            yield setup
        finally:
            await setup.notifier.stop()
            await admin.aclose()
