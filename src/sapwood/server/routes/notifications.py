"""/api/v1/teams/{team}/channels, /rules and /deliveries: a team's notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from sapwood.schemas import Channel, ChannelRequest, Delivery, Rule, RuleRequest
from sapwood.server.observe.messages import Target, sample_notification
from sapwood.server.routes.deps import CtxDep
from sapwood.server.routes.params import NamePath, TeamPath
from sapwood.server.services import notifications
from sapwood.server.services.errors import UnavailableError

router = APIRouter(prefix="/api/v1/teams/{team}", tags=["notifications"])


@router.get("/channels")
async def list_channels(team: TeamPath, ctx: CtxDep) -> list[Channel]:
    return await notifications.list_channels(ctx.session, ctx.caller, team)


@router.put("/channels/{name}")
async def set_channel(team: TeamPath, name: NamePath, body: ChannelRequest, ctx: CtxDep) -> Channel:
    now = ctx.state.clock.now()
    settings = ctx.state.settings
    return await notifications.set_channel(
        ctx.session,
        ctx.caller,
        team,
        name,
        body,
        now=now,
        policy=settings.notifications.webhook_policy,
        slack_app=settings.slack.enabled,
    )


@router.delete("/channels/{name}", status_code=204)
async def delete_channel(team: TeamPath, name: NamePath, ctx: CtxDep) -> Response:
    await notifications.delete_channel(ctx.session, ctx.caller, team, name)
    return Response(status_code=204)


@router.post("/channels/{name}/test")
async def test_channel(team: TeamPath, name: NamePath, ctx: CtxDep) -> Delivery:
    """Posts a sample notification now (with retries); the answer is the last attempt. A
    slack-dm channel sends it to the caller, as the owner of the sample."""
    row = await notifications.get_channel_row(ctx.session, ctx.caller, team, name, write=True)
    target = Target.of(row)
    await ctx.session.close()
    notifier = ctx.state.notifier
    if notifier is None:
        raise UnavailableError("the notifier is not running")
    note = sample_notification(team, name, ctx.state.clock.now(), owner=ctx.caller.user)
    return await notifier.deliver(target, note)


@router.get("/rules")
async def list_rules(team: TeamPath, ctx: CtxDep) -> list[Rule]:
    return await notifications.list_rules(ctx.session, ctx.caller, team)


@router.put("/rules/{name}")
async def set_rule(team: TeamPath, name: NamePath, body: RuleRequest, ctx: CtxDep) -> Rule:
    now = ctx.state.clock.now()
    return await notifications.set_rule(ctx.session, ctx.caller, team, name, body, now=now)


@router.delete("/rules/{name}", status_code=204)
async def delete_rule(team: TeamPath, name: NamePath, ctx: CtxDep) -> Response:
    await notifications.delete_rule(ctx.session, ctx.caller, team, name)
    return Response(status_code=204)


@router.get("/deliveries")
async def list_deliveries(
    team: TeamPath, ctx: CtxDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Delivery]:
    return await notifications.list_deliveries(ctx.session, ctx.caller, team, limit=limit)
