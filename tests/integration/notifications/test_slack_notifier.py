"""The notifier posting through the Slack app to a fake Slack: under-use alerts with buttons
in a channel, job endings as direct messages to the owner, and the delivery log."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from sapwood.server.observe.notifier import Notifier
from sapwood.server.store.tables import EventRow
from sapwood.testing.documents import job, workspace
from tests.integration.notifications.slack_support import TEAM, SlackSetup, buttons, shown_text

pytestmark = pytest.mark.anyio

CHANNEL = "C_ML_ALERTS"


async def _failed(s: SlackSetup, name: str, uid: str) -> None:
    """The event the controller writes when a Job fails for good."""
    async with s.state.sessions() as session:
        session.add(
            EventRow(
                uid=uid,
                kind="Job",
                team=TEAM,
                name=name,
                type="Warning",
                reason="BackoffLimitExceeded",
                message="exit code 1 after 3 tries",
                created_at=s.clock.now(),
            )
        )
        await session.commit()


async def _underused_lab(s: SlackSetup) -> str:
    """alice's workspace lab, requesting 4 CPUs and using 0.3 of them for 10 minutes."""
    alice = s.client("alice")
    try:
        await alice.apply([workspace("lab", resources={"cpu": 4}, idleTimeout=None)])
    finally:
        await alice.aclose()
    uid = await s.run("Workspace", "lab")
    await s.samples(
        uid,
        "Workspace",
        "lab",
        used_percent=30,
        requested_percent=400,
        since=timedelta(minutes=10),
    )
    return uid


async def test_an_underuse_alert_reaches_a_slack_app_channel_with_three_buttons(
    slack_setup: SlackSetup,
) -> None:
    s = slack_setup
    await s.put_channel("alerts", {"type": "slack-app", "slackChannel": CHANNEL})
    await s.api.admin.set_rule(
        "waste", channel="alerts", events=["underutilised"], duration="5m", team=TEAM
    )
    uid = await _underused_lab(s)
    await s.start()
    (alert,) = s.messages_in(CHANNEL)
    found = buttons(alert)
    assert list(found) == ["alert_pause", "alert_shrink", "alert_dismiss"]
    assert [b["text"] for b in found.values()] == [
        "Pause it",
        "Shrink to 0.5 CPU",
        "Dismiss for a day",
    ]
    named = {"uid": uid, "kind": "Workspace", "team": TEAM, "name": "lab"}
    assert found["alert_shrink"]["value"] == {
        **named,
        "cpu": 500,
        "generation": 1,
    }  # for that spec only
    assert found["alert_pause"]["value"] == named
    assert "workspace/lab" in alert.text
    assert "used at most 0.30 of 4 CPUs" in shown_text(alert)
    (post,) = s.slack.called("chat.postMessage")
    assert post.auth == "bot"
    log = await s.api.admin.list_deliveries(team=TEAM)
    assert [(d.channel, d.event, d.status_code, d.ok, d.error) for d in log] == [
        ("alerts", "underutilised", 200, True, None)
    ]


async def _owned_job_fails(s: SlackSetup, owner: str) -> str:
    """A slack-dm channel for job.failed; ``owner``'s Job train failed and was notified of;
    its uid."""
    await s.put_channel("owners", {"type": "slack-dm"})
    await s.api.admin.set_rule("ends", channel="owners", events=["job.failed"], team=TEAM)
    client = s.client(owner)
    try:
        await client.apply([job("train")])
    finally:
        await client.aclose()
    uid = await s.run("Job", "train", phase="Failed")
    await s.start()
    await _failed(s, "train", uid)
    await s.next_round()
    return uid


async def test_a_failed_job_is_a_direct_message_to_its_owner_with_logs_and_rerun(
    slack_setup: SlackSetup,
) -> None:
    s = slack_setup
    uid = await _owned_job_fails(s, "alice")
    (dm,) = s.messages_in(s.slack.user_dm("U_ALICE"))
    found = buttons(dm)
    assert list(found) == ["job_logs", "job_rerun"]
    assert found["job_rerun"]["value"] == {"uid": uid, "kind": "Job", "team": TEAM, "name": "train"}
    assert "job/train" in dm.text
    assert "exit code 1 after 3 tries" in shown_text(dm)
    assert [c.args["users"] for c in s.slack.called("conversations.open")] == ["U_ALICE"]
    assert [m.channel for m in s.slack.messages] == ["D_U_ALICE"]  # nobody else


async def test_an_owner_who_has_not_linked_slack_is_named_in_the_delivery_log(
    slack_setup: SlackSetup,
) -> None:
    s = slack_setup
    await _owned_job_fails(s, "bob")
    assert s.slack.messages == []
    log = await s.api.admin.list_deliveries(team=TEAM)
    assert [(d.attempt, d.ok, d.error) for d in log] == [
        (1, False, "owner bob has not linked Slack")  # once: not an error that retries
    ]


async def test_a_link_made_in_another_slack_workspace_is_not_messaged(
    slack_setup: SlackSetup,
) -> None:
    s = slack_setup
    await s.link("bob", "U_BOB_ELSEWHERE", slack_team="T_OTHER")
    await _owned_job_fails(s, "bob")
    assert s.slack.called("conversations.open") == []  # the bot cannot reach that workspace
    log = await s.api.admin.list_deliveries(team=TEAM)
    assert [(d.attempt, d.ok, d.error) for d in log] == [
        (1, False, "owner bob has linked Slack only in another Slack workspace")
    ]


async def test_ratelimited_is_retried_after_slacks_retry_after(slack_setup: SlackSetup) -> None:
    s = slack_setup
    await s.put_channel("alerts", {"type": "slack-app", "slackChannel": CHANNEL})
    s.slack.fail_next("chat.postMessage", "ratelimited", retry_after_s=7)
    posting = asyncio.ensure_future(s.api.admin.test_channel("alerts", team=TEAM))
    assert await s.clock.sleeping() == 7.0  # Slack's Retry-After, on the notifier's clock
    s.clock.advance(7.0)
    delivery = await posting
    assert (delivery.attempt, delivery.ok) == (2, True)
    assert len(s.messages_in(CHANNEL)) == 1
    log = await s.api.admin.list_deliveries(team=TEAM)
    assert [(d.attempt, d.status_code, d.ok, d.error) for d in log] == [
        (2, 200, True, None),
        (1, 429, False, "ratelimited"),
    ]


async def test_a_slack_error_is_logged_as_slack_said_and_not_retried(
    slack_setup: SlackSetup, caplog: pytest.LogCaptureFixture
) -> None:
    s = slack_setup
    await s.put_channel("alerts", {"type": "slack-app", "slackChannel": "C_ARCHIVED"})
    s.slack.fail_next("chat.postMessage", "is_archived", retry_after_s=None)
    with caplog.at_level(logging.DEBUG):
        delivery = await s.api.admin.test_channel("alerts", team=TEAM)
    assert (delivery.attempt, delivery.ok, delivery.error) == (1, False, "is_archived")
    assert s.slack.bot_token not in caplog.text  # not even slack_sdk's debug lines


async def test_a_channels_test_message_on_slack_dm_goes_to_the_caller(
    slack_setup: SlackSetup,
) -> None:
    s = slack_setup
    await s.put_channel("owners", {"type": "slack-dm"})
    alice = s.client("alice")
    try:
        await alice.test_channel("owners")
    finally:
        await alice.aclose()
    (dm,) = s.messages_in(s.slack.user_dm("U_ALICE"))
    assert "a test notification from Sapwood to channel owners" in shown_text(dm)


async def test_without_the_app_configured_a_post_fails_saying_so(
    slack_setup: SlackSetup,
) -> None:
    s = slack_setup
    await s.put_channel("alerts", {"type": "slack-app", "slackChannel": CHANNEL})
    s.state.notifier = Notifier(s.state.sessions, s.clock)  # the token was removed since
    delivery = await s.api.admin.test_channel("alerts", team=TEAM)
    assert not delivery.ok
    assert delivery.error is not None
    assert "SAPWOOD_SLACK_BOT_TOKEN" in delivery.error
    assert s.slack.calls == []
