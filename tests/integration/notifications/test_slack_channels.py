"""The Slack app's channel types on the API (slack-app, slack-dm), and objects' owners."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.testing.documents import job
from tests.integration.notifications.slack_support import TEAM, SlackSetup
from tests.support import Api

pytestmark = pytest.mark.anyio


async def _put(api: Api, name: str, body: dict[str, Any], *, team: str = "default") -> Any:
    async with api.http(api.admin_token) as http:
        return await http.put(f"/api/v1/teams/{team}/channels/{name}", json=body)


@pytest.mark.parametrize(
    "body", [{"type": "slack-app", "slackChannel": "C0123ABCD"}, {"type": "slack-dm"}]
)
async def test_without_the_slack_app_its_channels_are_422_naming_the_bot_token(
    api: Api, body: dict[str, Any]
) -> None:
    response = await _put(api, "alerts", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "SAPWOOD_SLACK_BOT_TOKEN" in error["hint"]
    assert [d["path"] for d in error["details"]] == ["type"]
    assert await api.admin.list_channels(team="default") == []


async def test_slack_app_and_dm_channels_are_stored_and_shown(slack_setup: SlackSetup) -> None:
    await slack_setup.put_channel("alerts", {"type": "slack-app", "slackChannel": "C0123ABCD"})
    await slack_setup.put_channel("owners", {"type": "slack-dm"})
    await slack_setup.put_channel("named", {"type": "slack-app", "slackChannel": "#ml-alerts"})
    async with slack_setup.api.http(slack_setup.api.admin_token) as http:
        listed = (await http.get(f"/api/v1/teams/{TEAM}/channels")).json()
    shown = {c["name"]: (c["type"], c["url"], c["slackChannel"]) for c in listed}
    assert shown == {
        "alerts": ("slack-app", "", "C0123ABCD"),
        "named": ("slack-app", "", "#ml-alerts"),
        "owners": ("slack-dm", "", None),
    }
    assert slack_setup.slack.bot_token not in str(listed)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"type": "slack-app"}, "slackChannel", "needs the conversation"),
        ({"type": "slack-app", "slackChannel": "general"}, "slackChannel", "#ml-alerts"),
        ({"type": "slack-dm", "url": "https://hooks.example/x"}, "url", "takes no url"),
        ({"type": "slack-dm", "slackChannel": "C0123ABCD"}, "slackChannel", "only a slack-app"),
        ({"type": "webhook"}, "url", "needs the http(s) url"),
        ({"type": "slack"}, "url", "needs the http(s) url"),
        (
            {"type": "slack-app", "slackChannel": "C0123ABCD", "secret": "s"},
            "secret",
            "no secret",
        ),
    ],
)
async def test_bad_slack_channel_bodies_are_422_naming_the_field(
    slack_setup: SlackSetup, body: dict[str, Any], field: str, words: str
) -> None:
    response = await _put(slack_setup.api, "c", body, team=TEAM)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert any(d["path"] == field and words in d["message"] for d in details), details


async def test_a_new_object_is_owned_by_the_user_who_applied_it(slack_setup: SlackSetup) -> None:
    alice, bob = slack_setup.client("alice"), slack_setup.client("bob")
    try:
        doc = job("train", command=["true"])
        doc["metadata"]["owner"] = "mallory"  # read-only: ignored, like uid
        await alice.apply([doc])
        assert (await alice.get("Job", "train")).metadata.owner == "alice"
        await bob.apply([job("train", command=["false"])])  # a change keeps the owner
        changed = await bob.get("Job", "train")
        assert (changed.metadata.owner, changed.spec["command"]) == ("alice", ["false"])
    finally:
        await alice.aclose()
        await bob.aclose()
