"""``POST /slack/events`` in HTTP mode: only Slack's signed, fresh requests act; the
/sapwood verbs answer the user who asked (ephemeral) or in a DM; secrets stay out of logs;
a server without the Slack app answers 404 naming the setting that turns it on."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from sapwood.server.app import create_app
from sapwood.server.services import slack_links
from sapwood.server.settings import Settings
from sapwood.server.slack import forms
from sapwood.server.slack.context import Deps
from sapwood.server.slack.front import CLAIMS_KEPT, PRUNE_EVERY_S, ClaimPruner
from sapwood.server.slack.message import Attachment, Message
from sapwood.testing.clock import FakeClock
from sapwood.testing.slack_fake import FakeSlack
from tests.integration.slack.conftest import PUBLIC_URL, SlackWorld, slack_settings
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_a_bad_signature_is_refused_and_does_nothing(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    body, _ = slack.command_request("U_ALICE", "env create")
    forged = slack.signed(body, secret="not-the-secret")
    response = await slack_world.send(forged)
    assert response.status_code == 401
    unsigned = await slack_world.http.post("/slack/events", content=body)
    assert unsigned.status_code == 401
    assert slack.called("views.open") == []


async def test_a_request_older_than_five_minutes_is_refused(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    body, _ = slack.command_request("U_ALICE", "env create")
    stale = slack.signed(body, timestamp=int(time.time()) - 6 * 60)
    assert (await slack_world.send(stale)).status_code == 401
    fresh = slack.signed(body)
    assert (await slack_world.send(fresh)).status_code == 200  # the same body, signed now
    await slack.wait_for(lambda: slack.called("views.update"))


async def test_link_sends_a_one_time_link_in_a_dm(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    await slack_world.command("U_NEWCOMER", "link")
    [dm] = await slack.wait_for(lambda: slack.messages)
    assert dm.channel == slack.user_dm("U_NEWCOMER")
    assert f"{PUBLIC_URL}/ui/slack/link?code=" in dm.text
    [reply] = await slack.wait_for(lambda: slack.responses)
    assert "sent you a link in a DM" in reply["text"]
    assert reply["response_type"] == "ephemeral"
    assert "code=" not in reply["text"]  # the link only in the DM


async def test_an_unlinked_user_is_told_how_to_link(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    await slack_world.command("U_NEWCOMER", "env list")
    [reply] = await slack.wait_for(lambda: slack.responses)
    assert "/sapwood link" in reply["text"]
    assert slack.messages == []


async def test_unlink_forgets_the_link(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    await slack_world.command("U_ALICE", "unlink")
    await slack.wait_for(lambda: slack.responses)
    assert "Unlinked" in slack.responses[0]["text"]
    await slack_world.command("U_ALICE", "jobs")
    await slack.wait_for(lambda: len(slack.responses) == 2)
    assert "/sapwood link" in slack.responses[1]["text"]


async def test_a_report_answers_the_linked_user(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    await slack_world.command("U_CAROL_UNLINKED", "help")
    await slack.wait_for(lambda: len(slack.responses) == 2)
    assert "env create" in str(slack.responses[0])  # help needs no link...
    assert "/sapwood link" in slack.responses[1]["text"]  # ...and says how to link
    await slack_world.command("U_ALICE", "env list")
    await slack.wait_for(lambda: len(slack.responses) == 3)
    assert slack.responses[2]["response_type"] == "ephemeral"


async def test_a_command_that_is_not_one_says_what_is(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    await slack_world.command("U_ALICE", "env destroy")
    [reply] = await slack.wait_for(lambda: slack.responses)
    assert "`env` takes `create` or `list`" in reply["text"]


async def test_no_secret_reaches_the_log(
    slack_world: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack = slack_world.slack
    await slack_world.command("U_NEWCOMER", "link")
    [dm] = await slack.wait_for(lambda: slack.messages)
    await slack_world.send(slack.signed(b"command=%2Fsapwood", secret="wrong"))
    code = dm.text.split("code=", 1)[1].split("|", 1)[0]
    for secret in (slack.bot_token, slack.signing_secret, code):
        assert secret not in caplog.text


async def test_without_the_slack_app_the_endpoint_names_the_setting(api: Api) -> None:
    async with api.http() as http:
        response = await http.post("/slack/events", content=b"command=%2Fsapwood")
    assert response.status_code == 404
    error = response.json()["error"]
    assert "SAPWOOD_SLACK_BOT_TOKEN" in error["hint"]


async def test_http_mode_without_a_signing_secret_does_not_start(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    app = create_app(slack_settings(settings, fake_slack, signing_secret=None), clock=clock)
    with pytest.raises(ValueError, match="SAPWOOD_SLACK_SIGNING_SECRET"):
        async with app.router.lifespan_context(app):
            pass


async def test_in_socket_mode_commands_come_over_the_socket_and_not_over_http(
    settings: Settings, clock: FakeClock, fake_slack: FakeSlack
) -> None:
    slack = fake_slack
    app_token = SecretStr(slack.app_token)
    tokens: list[str] = []
    app = create_app(
        slack_settings(settings, slack, app_token=app_token, signing_secret=None),
        clock=clock,
        on_bootstrap=tokens.append,
    )
    async with app.router.lifespan_context(app):
        api = Api(app, tokens[0])
        await api.admin.create_team("research")
        await api.admin.create_user("alice", teams={"research": "member"})
        async with api.http() as http:
            world = SlackWorld(api=api, slack=slack, http=http, clock=clock)
            await world.link("U_ALICE", "alice")
            body, _ = slack.command_request("U_ALICE", "env create")
            unsigned = await http.post("/slack/events", content=body)
        assert unsigned.status_code == 404  # nothing unsigned acts, even with a valid shape
        await slack.wait_for(lambda: slack.open_sockets, what="the Socket Mode connection")
        payload = slack.command_payload("U_ALICE", "env create")
        await slack.socket_send("slash_commands", payload)
        await slack.wait_for(lambda: slack.called("views.update"), what="the form filled")
        [view] = slack.views.values()
        assert view.view["callback_id"] == forms.ENV_CREATE
        await api.admin.aclose()


async def test_old_interaction_claims_are_pruned_by_the_leader(slack_world: SlackWorld) -> None:
    state, clock = slack_world.state, slack_world.clock
    async with state.sessions() as session:
        assert await slack_links.claim_interaction(session, "command:t1", now=clock.now())
    pruner = ClaimPruner(state.sessions, clock)
    await pruner.start()
    try:
        await pruner.wait_ticks(1)
        async with state.sessions() as session:  # an hour has not passed: still claimed
            assert not await slack_links.claim_interaction(session, "command:t1", now=clock.now())
        clock.advance(CLAIMS_KEPT + timedelta(seconds=PRUNE_EVERY_S))
        await pruner.wait_ticks(2)
        async with state.sessions() as session:
            assert await slack_links.claim_interaction(session, "command:t1", now=clock.now())
    finally:
        await pruner.stop()


async def test_a_long_answer_is_posted_as_a_file(slack_world: SlackWorld) -> None:
    slack = slack_world.slack
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    deps = Deps(state=slack_world.state, client=client)
    log = Attachment(filename="train.log", content=b"line\n" * 10_000, title="train")
    await deps.post("C_GENERAL", Message(text="the log of job/train", file=log))
    [posted] = await slack.wait_for(lambda: slack.files)
    assert (posted.filename, posted.channel) == ("train.log", "C_GENERAL")
    assert posted.content == log.content
