"""Socket Mode against the fake Slack's WebSocket: commands and submissions arrive over the
socket, the app reconnects after a cut, a quiet socket or its max age, and a redelivered
envelope (to this replica or another one on the same database) acts once."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from sapwood.schemas import SlackMode
from sapwood.server.app import create_app
from sapwood.server.auth.callers import Caller
from sapwood.server.services import slack_links
from sapwood.server.settings import Settings
from sapwood.server.slack.front import SlackFrontEnd
from sapwood.server.state import AppState
from sapwood.server.store.tables import ObjectRow
from sapwood.testing.clock import FakeClock
from sapwood.testing.slack_fake import FakeSlack, FakeView
from sapwood.testing.waiting import eventually
from tests.integration.slack.conftest import slack_settings
from tests.support import Api

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

FORM = {"name": "nb", "cpu": "1", "memory": "2Gi", "gpu": "0", "ttl": "1d"}
ENVELOPES = itertools.count(1)
WAIT_S = 30.0  # the runner looks every 5 s: noticing a quiet socket takes a few looks


def socket_settings(settings: Settings, slack: FakeSlack, *, max_age_s: float = 3600) -> Settings:
    """The Slack app on in Socket Mode (an app token; no signing secret needed)."""
    return slack_settings(
        settings,
        slack,
        app_token=SecretStr(slack.app_token),
        signing_secret=None,
        socket_max_age_s=max_age_s,
    )


@dataclass
class Replica:
    app: FastAPI
    api: Api

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.sapwood
        return state

    @property
    def front(self) -> SlackFrontEnd:
        front: SlackFrontEnd = self.app.state.slack
        return front


@contextlib.asynccontextmanager
async def replica(
    settings: Settings, clock: FakeClock, *, team: str | None = None
) -> AsyncIterator[Replica]:
    """A server with the Slack app in Socket Mode; with the Slack ``team``: team research
    with alice, a member, whose Slack user U_ALICE there is linked."""
    tokens: list[str] = []
    app = create_app(settings, clock=clock, on_bootstrap=tokens.append)
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0] if tokens else "")
        server = Replica(app, api)
        if team is not None:
            await api.admin.create_team("research")
            await api.admin.create_user("alice", teams={"research": "member"})
            async with server.state.sessions() as session:
                code = await slack_links.start_link(session, team, "U_ALICE", now=clock.now())
                await slack_links.confirm_link(
                    session, Caller(user="alice", admin=False), code, now=clock.now()
                )
        try:
            yield server
        finally:
            await api.admin.aclose()


async def workspaces(server: Replica) -> int:
    async with server.state.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(ObjectRow).where(ObjectRow.kind == "Workspace")
        )
        return int(count or 0)


async def connected(slack: FakeSlack, *, sockets: int = 1) -> None:
    await slack.wait_for(
        lambda: slack.open_sockets >= sockets, timeout_s=WAIT_S, what=f"{sockets} socket(s)"
    )


async def deliver(slack: FakeSlack, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Sends an envelope as Slack does: again, under the same id, while no ack comes back
    (a socket replaced while the envelope was on it)."""
    envelope_id = f"env-{next(ENVELOPES)}"
    for attempt in range(5):
        try:
            return await slack.socket_send(
                kind, payload, envelope_id=envelope_id, retry_attempt=attempt, timeout_s=WAIT_S
            )
        except ConnectionError:
            continue
    raise AssertionError(f"envelope {envelope_id} was never acked")


async def open_form(slack: FakeSlack) -> FakeView:
    """``/sapwood env create`` over the socket; the modal once the app has filled it."""
    before = set(slack.views)
    await deliver(slack, "slash_commands", slack.command_payload("U_ALICE", "env create"))

    def filled() -> FakeView | None:
        fresh = [v for k, v in slack.views.items() if k not in before and len(v.history) > 1]
        return fresh[0] if fresh else None

    return await slack.wait_for(filled, what="the env create form")


def submission(slack: FakeSlack, view: FakeView) -> dict[str, Any]:
    return slack.view_submission_payload("U_ALICE", view.id, slack.form_values(view.id, FORM))


async def created(slack: FakeSlack, server: Replica, *, count: int = 1) -> None:
    await slack.wait_for(lambda: len(slack.messages) >= count, what="the workspace's message")
    assert await workspaces(server) == count


async def test_a_command_over_the_socket_opens_the_form_and_a_submission_creates_one(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    async with replica(socket_settings(settings, slack), clock, team=slack.team_id) as server:
        await connected(slack)
        view = await open_form(slack)
        ack = await deliver(slack, "interactive", submission(slack, view))
        assert not ack.get("payload")  # an empty ack closes the modal

        await created(slack, server)
        assert len(slack.called("views.open")) == 1
        assert slack.connections_opened == 1


async def test_after_the_sockets_are_cut_the_app_reconnects_and_handles_the_next_command(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    async with replica(socket_settings(settings, slack), clock, team=slack.team_id) as server:
        await connected(slack)
        slack.drop_sockets()
        await slack.wait_for(lambda: slack.connections_opened >= 2, timeout_s=WAIT_S)
        await connected(slack)

        view = await open_form(slack)
        await deliver(slack, "interactive", submission(slack, view))
        await created(slack, server)


async def test_a_socket_that_went_quiet_is_replaced(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    async with replica(socket_settings(settings, slack), clock, team=slack.team_id) as server:
        await connected(slack)
        slack.silence_sockets()  # open, but nothing comes back: pings go unanswered
        await connected(slack)  # a new one
        assert slack.connections_opened >= 2

        view = await open_form(slack)
        await deliver(slack, "interactive", submission(slack, view))
        await created(slack, server)


async def test_a_redelivered_envelope_creates_one_workspace(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    async with replica(socket_settings(settings, slack), clock, team=slack.team_id) as server:
        await connected(slack)
        view = await open_form(slack)
        payload = submission(slack, view)
        await slack.socket_send("interactive", payload, envelope_id="env-submit")
        await created(slack, server)

        slack.drop_sockets()  # the ack may have been lost with the socket: Slack resends
        await slack.wait_for(lambda: slack.connections_opened >= 2, timeout_s=WAIT_S)
        await connected(slack)
        await slack.socket_send("interactive", payload, envelope_id="env-submit", retry_attempt=1)
        await open_form(slack)  # a later envelope handled: the resent one was, before it
        assert await workspaces(server) == 1
        assert len(slack.messages) == 1


async def test_two_replicas_on_one_database_handle_an_envelope_once(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    config = socket_settings(settings, slack)
    async with (
        replica(config, clock, team=slack.team_id) as first,
        replica(config, clock) as second,
    ):
        await connected(slack, sockets=2)
        view = await open_form(slack)
        payload = submission(slack, view)
        # The fake hands envelopes to the open sockets in turn: one to each replica.
        for attempt in (0, 1):
            await slack.socket_send(
                "interactive", payload, envelope_id="env-twice", retry_attempt=attempt
            )
        await created(slack, first)
        await open_form(slack)  # later envelopes handled by both replicas
        await open_form(slack)
        assert await workspaces(second) == 1
        assert len(slack.messages) == 1


async def test_connections_older_than_the_max_age_are_replaced_and_commands_still_work(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    config = socket_settings(settings, slack, max_age_s=1.0)
    async with replica(config, clock, team=slack.team_id) as server:
        await slack.wait_for(lambda: slack.connections_opened >= 3, timeout_s=WAIT_S)

        view = await open_form(slack)
        await deliver(slack, "interactive", submission(slack, view))
        await created(slack, server)
        # Each replaced socket was closed: one stays open, not one per renewal.
        await slack.wait_for(lambda: slack.open_sockets == 1, what="one open socket")


async def test_failures_to_connect_are_retried_and_logged_without_the_tokens(
    settings: Settings,
    clock: FakeClock,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack = fake_slack
    slack.fail_next("apps.connections.open", "internal_error", retry_after_s=None, times=3)
    caplog.set_level(logging.DEBUG)  # every logger: the SDK's and bolt's too
    async with replica(socket_settings(settings, slack), clock, team=slack.team_id) as server:
        await connected(slack)  # the server started while Slack refused; it kept trying
        view = await open_form(slack)
        await deliver(slack, "interactive", submission(slack, view))
        await created(slack, server)

    failed = [r.getMessage() for r in caplog.records if "connecting failed" in r.getMessage()]
    assert len(failed) == 3
    assert all("internal_error" in line for line in failed)
    assert slack.app_token not in caplog.text
    assert slack.bot_token not in caplog.text


async def test_a_disconnect_message_from_slack_moves_the_app_to_a_new_socket(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    async with replica(socket_settings(settings, slack), clock, team=slack.team_id) as server:
        await connected(slack)
        slack.disconnect_sockets("refresh_requested")  # as Slack does before a restart
        await slack.wait_for(lambda: slack.connections_opened >= 2, timeout_s=WAIT_S)
        await slack.wait_for(lambda: slack.open_sockets == 1, what="the old socket closed")

        view = await open_form(slack)
        await deliver(slack, "interactive", submission(slack, view))
        await created(slack, server)


async def test_an_admin_sees_whether_the_socket_is_up_and_why_it_is_not(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    slack.fail_next("apps.connections.open", "invalid_auth", retry_after_s=None, times=2)
    async with replica(socket_settings(settings, slack), clock) as server:
        status = server.api.admin.slack_status
        refused = await eventually(
            status, lambda s: s.connect_failures >= 1, timeout_s=WAIT_S, what="a failed connect"
        )
        assert refused.mode is SlackMode.SOCKET
        assert refused.connected is False
        assert refused.last_error == "Slack answered invalid_auth"

        healthy = await eventually(status, lambda s: s.connected, timeout_s=WAIT_S, what="up")
        assert healthy.connect_failures == 0
        assert healthy.sockets_opened >= 1
        assert healthy.last_error == "Slack answered invalid_auth"  # kept, with its time
        assert healthy.last_error_at is not None
