"""``POST /slack/events``, always routed: to the Slack app when the server runs one, else a
404 that names the setting which turns it on."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sapwood.server.services.errors import NotFoundError
from sapwood.server.slack.front import EVENTS_PATH, SlackFrontEnd

router = APIRouter()


@router.post(EVENTS_PATH, include_in_schema=False)
async def slack_events(request: Request) -> Response:
    front = getattr(request.app.state, "slack", None)
    if not isinstance(front, SlackFrontEnd):
        raise NotFoundError(
            "the Slack app is not configured on this server",
            hint="set SAPWOOD_SLACK_BOT_TOKEN (and SAPWOOD_SLACK_SIGNING_SECRET for HTTP mode, "
            "or SAPWOOD_SLACK_APP_TOKEN for Socket Mode)",
        )
    return await front.handle(request)
