"""GET /api/v1/slack: the Slack app's status, for admins; off when not configured."""

from __future__ import annotations

import pytest

from sapwood.client import ForbiddenError
from sapwood.schemas import SlackMode
from tests.support import Api

pytestmark = pytest.mark.anyio


async def test_without_a_bot_token_the_app_is_off_and_only_admins_may_ask(api: Api) -> None:
    status = await api.admin.slack_status()
    assert status.mode is SlackMode.OFF
    assert status.connected is None
    await api.admin.create_team("research")
    await api.admin.create_user("alice", teams={"research": "member"})
    token = (await api.admin.create_token(user="alice")).token
    alice = api.client(token)
    try:
        with pytest.raises(ForbiddenError, match="only admins"):
            await alice.slack_status()
    finally:
        await alice.aclose()
