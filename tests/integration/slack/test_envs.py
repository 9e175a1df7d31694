"""``/sapwood env create`` end to end over HTTP mode: the modal opens at once and is filled,
a submission creates exactly one Workspace through the API's apply (roles, validation), its
message follows with buttons that pause, resume, extend and delete it as the linked user."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sapwood.server.slack import blocks, forms
from sapwood.testing.slack_fake import FakeMessage
from sapwood.testing.waiting import eventually
from tests.integration.slack.conftest import PUBLIC_URL, SlackWorld
from tests.support import workspace

pytestmark = pytest.mark.anyio

FORM = {"name": "nb", "cpu": "1", "memory": "2Gi", "gpu": "0", "ttl": "1d"}


def texts(view_or_message: dict[str, Any] | list[Any]) -> str:
    return json.dumps(view_or_message)


async def posted(world: SlackWorld, *, count: int = 1) -> list[FakeMessage]:
    return await world.slack.wait_for(
        lambda: len(world.slack.messages) >= count and list(world.slack.messages),
        what=f"{count} message(s) posted",
    )


async def create(world: SlackWorld, user: str = "U_ALICE", **answers: Any) -> FakeMessage:
    view = await world.open_form(user)
    response = await world.submit(user, view, {**FORM, **answers})
    assert response.status_code == 200
    assert response.text == "", response.text  # an empty ack closes the modal
    messages = await posted(world)
    await tracked(world)  # the last thing a submission does
    return messages[-1]


async def test_env_create_opens_the_form_at_once_with_the_teams_the_user_may_write(
    slack_world: SlackWorld,
) -> None:
    view = await slack_world.open_form("U_ALICE")
    first, filled = view.history[0], view.view
    assert "Loading" in texts(first)  # opened before any database work
    assert filled["callback_id"] == forms.ENV_CREATE
    team = next(b for b in filled["blocks"] if b["block_id"] == forms.TEAM)
    assert [o["value"] for o in team["element"]["options"]] == ["research"]
    assert forms.channel_of(filled["private_metadata"]) == "C_GENERAL"


async def test_a_submission_creates_one_workspace_and_posts_its_message(
    slack_world: SlackWorld,
) -> None:
    message = await create(slack_world, cpu="500m", memory="3Gi", gpu="1", gpu_model="A100")
    [created] = await slack_world.workspaces()
    assert (created.metadata.team, created.metadata.name) == ("research", "nb")
    resources = created.spec["resources"]
    assert resources == {"cpu": "500m", "memory": "3Gi", "gpu": 1, "gpuModel": "A100"}
    assert created.spec["ttl"] == "1d"
    assert created.metadata.owner == "alice"
    assert message.channel == "C_GENERAL"
    assert "Pending" in message.text
    assert _actions(message) == {blocks.EXTEND, blocks.PAUSE, blocks.DELETE}
    assert await tracked(slack_world) == 1


async def tracked(world: SlackWorld) -> int:
    """How many messages are tracked, once one is."""
    return await eventually(world.tracked, what="the message tracked")


async def test_retried_commands_and_submissions_act_once(slack_world: SlackWorld) -> None:
    world, slack = slack_world, slack_world.slack
    request = slack.command_request("U_ALICE", "env create")
    assert (await world.send(request)).status_code == 200
    view = await slack.wait_for(
        lambda: next((v for v in slack.views.values() if len(v.history) > 1), None)
    )
    assert (await world.send(request, retry_num=1)).status_code == 200
    values = slack.form_values(view.id, FORM)
    submission = slack.view_submission_request("U_ALICE", view.id, values)
    assert (await world.send(submission)).status_code == 200
    await posted(world)
    for retry in (1, 2):
        assert (await world.send(submission, retry_num=retry)).status_code == 200
    await tracked(world)
    assert len(slack.called("views.open")) == 1
    assert len(await world.workspaces()) == 1
    assert len(slack.messages) == 1


async def test_bad_values_are_named_on_their_fields_and_nothing_is_created(
    slack_world: SlackWorld,
) -> None:
    view = await slack_world.open_form("U_ALICE")
    response = await slack_world.submit("U_ALICE", view, {**FORM, "cpu": "lots", "name": "A b"})
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert "'lots' is not a CPU count" in answer["errors"][forms.CPU]
    assert "not a valid name" in answer["errors"][forms.NAME]
    assert await slack_world.objects() == 0


async def test_a_taken_name_is_refused_on_the_name_field(slack_world: SlackWorld) -> None:
    await slack_world.api.admin.apply([workspace("nb", team="research")])
    view = await slack_world.open_form("U_ALICE")
    response = await slack_world.submit("U_ALICE", view, FORM)
    errors = response.json()["errors"]
    assert "already has a workspace named nb" in errors[forms.NAME]
    [existing] = await slack_world.workspaces()
    assert existing.metadata.generation == 1  # left as it was


async def test_an_unlinked_user_is_shown_how_to_link_and_creates_nothing(
    slack_world: SlackWorld,
) -> None:
    view = await slack_world.open_form("U_STRANGER")
    assert view.view["callback_id"] != forms.ENV_CREATE
    [button] = [e for b in view.view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert button["url"].startswith(f"{PUBLIC_URL}/ui/slack/link?code=")
    assert await slack_world.objects() == 0


async def test_a_viewer_is_told_their_role_and_gets_no_form(slack_world: SlackWorld) -> None:
    view = await slack_world.open_form("U_VIC")
    text = texts(view.view)
    assert "viewer of team research" in text
    assert "member role" in text
    assert "submit" not in view.view
    assert await slack_world.objects() == 0


async def _click(world: SlackWorld, user: str, message: FakeMessage, action: str) -> FakeMessage:
    """Clicks a button of the message and waits until the message changes."""
    versions = len(world.slack.message(message.channel, message.ts).history)
    request = world.slack.block_action_request(
        user, action_id=action, channel=message.channel, ts=message.ts
    )
    assert (await world.send(request)).status_code == 200
    return await world.slack.wait_for(
        lambda: (m := world.slack.message(message.channel, message.ts)).history[versions:] and m,
        what=f"the message updated after {action}",
    )


def _actions(message: FakeMessage) -> set[str]:
    return {e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]}


async def test_the_buttons_pause_resume_extend_and_delete(slack_world: SlackWorld) -> None:
    world = slack_world
    message = await create(world)
    expires = await world.api.admin.get("Workspace", "nb", team="research")

    paused = await _click(world, "U_BOB", message, blocks.PAUSE)  # a teammate may
    assert (await world.api.admin.get("Workspace", "nb")).spec["paused"] is True
    assert blocks.RESUME in _actions(paused)

    resumed = await _click(world, "U_ALICE", message, blocks.RESUME)
    assert (await world.api.admin.get("Workspace", "nb")).spec["paused"] is False
    assert blocks.PAUSE in _actions(resumed)

    await _click(world, "U_ALICE", message, blocks.EXTEND)
    extended = await world.api.admin.get("Workspace", "nb")
    assert extended.spec["ttl"] == "2d"
    assert extended.spec["ttl"] != expires.spec["ttl"]

    deleted = await _click(world, "U_ALICE", message, blocks.DELETE)
    assert await world.workspaces() == []
    assert "deleted" in deleted.text
    assert _actions(deleted) == set()


async def test_a_viewer_pressing_pause_is_told_why_and_nothing_changes(
    slack_world: SlackWorld,
) -> None:
    world = slack_world
    message = await create(world)
    request = world.slack.block_action_request(
        "U_VIC", action_id=blocks.PAUSE, channel=message.channel, ts=message.ts
    )
    assert (await world.send(request)).status_code == 200
    [answer] = await world.slack.wait_for(lambda: world.slack.responses)
    assert "viewer of team research" in answer["text"]
    assert answer.get("response_type") == "ephemeral"
    assert (await world.api.admin.get("Workspace", "nb")).spec["paused"] is False
