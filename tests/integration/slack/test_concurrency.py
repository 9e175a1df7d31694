"""Many people at once: 50 linked users each run ``/sapwood env create`` at the same moment;
every one gets the form within Slack's 3-second trigger window, and 50 submissions make 50
workspaces, each with its message."""

from __future__ import annotations

import asyncio

import pytest

from sapwood.testing.slack_fake import FakeView
from tests.integration.slack.conftest import SlackWorld

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

PEOPLE = 50


async def test_fifty_people_create_fifty_environments_at_once(slack_world: SlackWorld) -> None:
    world, slack = slack_world, slack_world.slack
    users = [f"user{n:02d}" for n in range(PEOPLE)]
    for user in users:
        await world.api.admin.create_user(user, teams={"research": "member"})
        await world.link(f"U_{user.upper()}", user)

    async def ask(user: str) -> None:
        # Built just before it is sent: the trigger id's 3 s start when the user types.
        request = slack.command_request(f"U_{user.upper()}", "env create")
        response = await world.send(request)
        assert response.status_code == 200

    await asyncio.gather(*(ask(user) for user in users))

    def forms() -> dict[str, FakeView] | None:
        filled = {v.user: v for v in slack.views.values() if len(v.history) > 1}
        return filled if len(filled) == PEOPLE else None

    views = await slack.wait_for(forms, timeout_s=60, what=f"{PEOPLE} filled forms")

    async def submit(user: str) -> None:
        slack_user = f"U_{user.upper()}"
        response = await world.submit(slack_user, views[slack_user], {"name": f"nb-{user}"})
        assert response.status_code == 200
        assert response.text == "", response.text

    await asyncio.gather(*(submit(user) for user in users))
    created = await world.workspaces()
    assert sorted(o.metadata.name for o in created) == sorted(f"nb-{u}" for u in users)
    assert {o.metadata.owner for o in created} == set(users)
    await slack.wait_for(lambda: len(slack.messages) == PEOPLE, timeout_s=60, what="messages")
