"""/api/v1/slack: the Slack app's status on the replica that answers (admins only)."""

from __future__ import annotations

from fastapi import APIRouter

from sapwood.schemas import SlackStatus
from sapwood.server.routes.deps import CtxDep
from sapwood.server.services.access import require_admin

router = APIRouter(prefix="/api/v1", tags=["slack"])


@router.get("/slack")
async def slack_status(ctx: CtxDep) -> SlackStatus:
    """Off, HTTP mode, or Socket Mode with whether its socket to Slack is open and why the
    last connect failed: a link that cannot work says so here, not only in the log."""
    require_admin(ctx.caller, "see the Slack app's status")
    return ctx.state.slack_status()
