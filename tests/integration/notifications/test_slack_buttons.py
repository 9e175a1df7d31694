"""Clicking the notification buttons: signed block_actions requests from the fake Slack to
the app's POST /slack/events, acting as the clicker's linked Sapwood user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sapwood.server.observe.notifier import Notifier
from sapwood.server.observe.slack_posts import web_client
from sapwood.server.store.tables import EventRow
from sapwood.testing.documents import job, workspace
from sapwood.testing.slack_fake import FakeMessage
from tests.integration.notifications.slack_support import TEAM, SlackSetup, buttons, shown_text

pytestmark = pytest.mark.anyio

CHANNEL = "C_ML_ALERTS"


async def _click(s: SlackSetup, slack_user: str, action_id: str, message: FakeMessage) -> None:
    request = s.slack.block_action_request(
        slack_user, action_id=action_id, channel=message.channel, ts=message.ts
    )
    async with s.api.http() as http:
        response: httpx.Response = await s.slack.post(http, request)
    assert response.status_code == 200, response.text  # acknowledged; the work follows


async def _said_to(s: SlackSetup, slack_user: str) -> str:
    """What the app told ``slack_user`` privately (an ephemeral message), once it did."""

    def told() -> str:
        return "\n".join(shown_text(e) for e in s.slack.ephemerals if e.user == slack_user)

    return await s.slack.wait_for(told, what=f"an answer to {slack_user}")


async def _replaced(s: SlackSetup, message: FakeMessage, words: str) -> FakeMessage:
    """The message once its buttons gave way to a line containing ``words``."""
    await s.slack.wait_for(
        lambda: words in shown_text(s.slack.message(message.channel, message.ts)),
        what=f"{words!r} on the message",
    )
    return s.slack.message(message.channel, message.ts)


@pytest.fixture
async def alert(slack_setup: SlackSetup) -> FakeMessage:
    """alice's workspace lab, requesting 4 CPUs and using 0.3, alerted about in CHANNEL."""
    s = slack_setup
    await s.put_channel("alerts", {"type": "slack-app", "slackChannel": CHANNEL})
    await s.api.admin.set_rule(
        "waste", channel="alerts", events=["underutilised"], duration="5m", team=TEAM
    )
    alice = s.client("alice")
    try:
        await alice.apply(
            [workspace("lab", image="python:3.12", resources={"cpu": 4}, idleTimeout=None)]
        )
    finally:
        await alice.aclose()
    uid = await s.run("Workspace", "lab")
    await s.samples(
        uid, "Workspace", "lab", used_percent=30, requested_percent=400, since=timedelta(minutes=10)
    )
    await s.start()
    (message,) = s.messages_in(CHANNEL)
    return message


async def _lab(s: SlackSetup) -> Any:
    return await s.api.admin.get("Workspace", "lab", team=TEAM)


async def test_pause_pauses_and_says_who_did(slack_setup: SlackSetup, alert: FakeMessage) -> None:
    s = slack_setup
    await _click(s, "U_ALICE", "alert_pause", alert)
    after = await _replaced(s, alert, "Paused by <@U_ALICE>")
    assert buttons(after) == {}
    assert (await _lab(s)).spec["paused"] is True


async def test_shrink_sets_the_request_to_the_suggestion_and_nothing_else(
    slack_setup: SlackSetup, alert: FakeMessage
) -> None:
    s = slack_setup
    before = await _lab(s)
    await _click(s, "U_ALICE", "alert_shrink", alert)
    after = await _replaced(s, alert, "Request shrunk to 0.5 CPU per replica by <@U_ALICE>")
    assert buttons(after) == {}
    lab = await _lab(s)
    assert lab.spec["resources"]["cpu"] == "500m"
    assert {k: v for k, v in lab.spec.items() if k != "resources"} == {
        k: v for k, v in before.spec.items() if k != "resources"
    }
    assert lab.spec["resources"]["memory"] == before.spec["resources"]["memory"]
    assert lab.metadata.generation == before.metadata.generation + 1


async def test_shrink_does_nothing_once_the_spec_changed_since_the_alert(
    slack_setup: SlackSetup, alert: FakeMessage
) -> None:
    s = slack_setup
    alice = s.client("alice")
    try:  # alice raised the request herself after the alert: its suggestion no longer fits
        await alice.apply(
            [workspace("lab", image="python:3.12", resources={"cpu": 8}, idleTimeout=None)]
        )
    finally:
        await alice.aclose()
    await _click(s, "U_ALICE", "alert_shrink", alert)
    assert "changed since this alert" in await _said_to(s, "U_ALICE")
    assert (await _lab(s)).spec["resources"]["cpu"] == "8"


async def test_dismiss_holds_back_the_next_alert_for_a_day(
    slack_setup: SlackSetup, alert: FakeMessage
) -> None:
    s = slack_setup
    await _click(s, "U_ALICE", "alert_dismiss", alert)
    await _replaced(s, alert, "Dismissed by <@U_ALICE>")
    # A restarted notifier forgets the episodes it reported and would alert again at once.
    await s.notifier.stop()
    s.notifier = Notifier(s.state.sessions, s.clock, slack=web_client(s.state.settings.slack))
    await s.start()
    assert len(s.messages_in(CHANNEL)) == 1
    day_later = s.clock.now() + timedelta(days=1, minutes=1)
    uid = (await _lab(s)).metadata.uid
    await s.samples(
        uid,
        "Workspace",
        "lab",
        used_percent=30,
        requested_percent=400,
        since=timedelta(minutes=10),
        until=day_later,
    )
    await s.next_round(seconds=(day_later - s.clock.now()).total_seconds())
    assert len(s.messages_in(CHANNEL)) == 2  # the dismissal ended; still under-used


async def test_a_viewers_click_changes_nothing_and_says_why(
    slack_setup: SlackSetup, alert: FakeMessage
) -> None:
    s = slack_setup
    await _click(s, "U_VAL", "alert_pause", alert)
    said = await _said_to(s, "U_VAL")
    assert "you are a viewer of team alpha and cannot change workspace/lab" in said
    assert (await _lab(s)).spec.get("paused") is not True
    assert list(buttons(s.slack.message(alert.channel, alert.ts))) == [
        "alert_pause",
        "alert_shrink",
        "alert_dismiss",
    ]


async def test_an_unlinked_user_is_told_to_link_first(
    slack_setup: SlackSetup, alert: FakeMessage
) -> None:
    s = slack_setup
    await _click(s, "U_STRANGER", "alert_shrink", alert)
    assert "/sapwood link" in await _said_to(s, "U_STRANGER")
    assert (await _lab(s)).spec["resources"]["cpu"] == "4"


class LogReads:
    """The runtime's logs as a replica reads them: a few lines of job output."""

    runtime_name = "fake"

    async def logs(self, kind: str, team: str, name: str, **_: object) -> AsyncIterator[bytes]:
        for step in range(50):
            yield f"{name} step {step}\n".encode()

    async def capacity(self) -> Any:
        raise NotImplementedError


@pytest.fixture
async def failed_job(slack_setup: SlackSetup) -> FakeMessage:
    """alice's job train failed; the DM that told her so."""
    s = slack_setup
    await s.put_channel("owners", {"type": "slack-dm"})
    await s.api.admin.set_rule("ends", channel="owners", events=["job.failed"], team=TEAM)
    alice = s.client("alice")
    try:
        await alice.apply([job("train")])
    finally:
        await alice.aclose()
    uid = await s.run("Job", "train", phase="Failed")
    await s.start()
    async with s.state.sessions() as session:
        session.add(
            EventRow(
                uid=uid,
                kind="Job",
                team=TEAM,
                name="train",
                type="Warning",
                reason="BackoffLimitExceeded",
                message="exit code 1",
                created_at=s.clock.now(),
            )
        )
        await session.commit()
    await s.next_round()
    (dm,) = s.messages_in(s.slack.user_dm("U_ALICE"))
    return dm


async def test_rerun_reruns_a_failed_job_and_keeps_the_logs_button(
    slack_setup: SlackSetup, failed_job: FakeMessage
) -> None:
    s = slack_setup
    await _click(s, "U_ALICE", "job_rerun", failed_job)
    after = await _replaced(s, failed_job, "Rerun by <@U_ALICE> (run 2)")
    assert list(buttons(after)) == ["job_logs"]
    train = await s.api.admin.get("Job", "train", team=TEAM)
    assert (train.status["phase"], train.status["reason"], train.status["run"]) == (
        "Pending",
        "Rerun",
        2,
    )


async def test_logs_answers_the_last_lines_to_the_clicker_alone(
    slack_setup: SlackSetup, failed_job: FakeMessage
) -> None:
    s = slack_setup
    s.state.reads = LogReads()
    await _click(s, "U_ALICE", "job_logs", failed_job)
    said = await _said_to(s, "U_ALICE")
    assert "train step 49" in said
    assert "train step 9\n" not in said  # the tail, not the whole log
    assert [e.user for e in s.slack.ephemerals] == ["U_ALICE"]
    assert list(buttons(s.slack.message(failed_job.channel, failed_job.ts))) == [
        "job_logs",
        "job_rerun",
    ]
