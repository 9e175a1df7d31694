"""What the Slack app posts for a notification, and what a click leaves of its buttons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sapwood.server.observe.messages import Notification, Shrink
from sapwood.server.observe.notifier import shrink_of
from sapwood.server.observe.slack_alerts import ActionValue, acted_blocks, shrink_text, slack_post
from sapwood.server.observe.underuse import Underuse

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MESSAGE = "CPU used at most 0.30 of 4 CPUs over 30 min (under 20% of the request); request 0.5 CPU"


def note(event: str, kind: str = "Workspace", **fields: Any) -> Notification:
    base: dict[str, Any] = {
        "event": event,
        "kind": kind,
        "team": "alpha",
        "name": "lab",
        "reason": "Underutilised" if event == "underutilised" else "BackoffLimitExceeded",
        "message": MESSAGE if event == "underutilised" else "exit code 1",
        "time": NOW,
        "uid": "uid-1",
    }
    return Notification(**{**base, **fields})


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def test_an_underuse_alert_offers_pause_shrink_and_dismiss() -> None:
    post = slack_post(note("underutilised", shrink=Shrink(cpu_millis=500)))
    found = buttons(post.blocks)
    assert list(found) == ["alert_pause", "alert_shrink", "alert_dismiss"]
    assert found["alert_shrink"]["text"]["text"] == "Shrink to 0.5 CPU"
    shrink = json.loads(found["alert_shrink"]["value"])
    named = {"uid": "uid-1", "kind": "Workspace", "team": "alpha", "name": "lab"}
    assert shrink == {**named, "cpu": 500}
    assert json.loads(found["alert_pause"]["value"]) == named
    assert json.loads(found["alert_dismiss"]["value"]) == named
    assert post.text.startswith("workspace/lab in team alpha is under-used")
    assert MESSAGE in post.text


def test_a_job_cannot_be_paused_so_its_alert_has_no_pause() -> None:
    post = slack_post(note("underutilised", kind="Job", shrink=Shrink(gpus=0)))
    found = buttons(post.blocks)
    assert list(found) == ["alert_shrink", "alert_dismiss"]
    assert found["alert_shrink"]["text"]["text"] == "Shrink to no GPU"
    assert json.loads(found["alert_shrink"]["value"])["gpus"] == 0


@pytest.mark.parametrize("event", ["job.failed", "job.succeeded", "preempted"])
def test_a_jobs_end_offers_logs_and_rerun(event: str) -> None:
    post = slack_post(note(event, kind="Job", name="train"))
    assert list(buttons(post.blocks)) == ["job_logs", "job_rerun"]
    assert "job/train" in post.text


def test_a_preempted_workspace_offers_logs_only() -> None:
    assert list(buttons(slack_post(note("preempted")).blocks)) == ["job_logs"]


def test_other_notifications_are_plain_and_say_what_the_webhook_message_says() -> None:
    post = slack_post(note("workspace.paused", reason="Paused", message="paused by alice"))
    assert buttons(post.blocks) == {}
    assert [b["type"] for b in post.blocks] == ["header", "section"]
    assert "paused by alice" in post.blocks[1]["text"]["text"]
    # Without a uid (a channel's test message) there is nothing a button could act on.
    assert buttons(slack_post(note("job.failed", kind="Job", uid="")).blocks) == {}


def test_acted_blocks_replace_the_buttons_and_keep_what_is_asked() -> None:
    blocks = slack_post(note("job.failed", kind="Job")).blocks
    after = acted_blocks(blocks, "Rerun by <@U_ALICE> (run 2)", keep=("job_logs",))
    assert list(buttons(after)) == ["job_logs"]
    assert after[-1]["elements"][0]["text"] == "Rerun by <@U_ALICE> (run 2)"
    paused = acted_blocks(slack_post(note("underutilised")).blocks, "Paused by <@U_ALICE>")
    assert buttons(paused) == {}
    assert [b["type"] for b in paused][-1] == "context"


def test_action_values_round_trip_and_refuse_what_sapwood_did_not_make() -> None:
    value = ActionValue("u", "Service", "alpha", "web", gpus=1)
    assert ActionValue.parse(value.to_json()) == value
    for bad in ("", "{}", "[1]", '{"uid": "u", "kind": "Job", "team": "a"}', "not json"):
        with pytest.raises(ValueError, match="not a Sapwood button value"):
            ActionValue.parse(bad)
    with pytest.raises(ValueError, match="-5 is not a count"):
        ActionValue.parse('{"uid": "u", "kind": "Job", "team": "a", "name": "n", "cpu": -5}')


@pytest.mark.parametrize(
    ("underuse", "shrink", "words"),
    [
        (Underuse("cpu", 0.3, 4, 0.5, ""), Shrink(cpu_millis=500), "0.5 CPU"),
        (Underuse("cpu", 1.2, 4, 2.0, ""), Shrink(cpu_millis=2000), "2 CPUs"),
        (Underuse("gpu", 0.0, 2, 0.0, ""), Shrink(gpus=0), "no GPU"),
        (Underuse("gpu", 0.5, 4, 1.0, ""), Shrink(gpus=1), "1 GPU"),
    ],
)
def test_an_underuse_finding_becomes_a_request_in_a_specs_units(
    underuse: Underuse, shrink: Shrink, words: str
) -> None:
    assert shrink_of(underuse) == shrink
    assert shrink_text(shrink) == words
