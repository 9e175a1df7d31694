"""/api/v1/whoami, /teams, /users, /tokens and /events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from sapwood.schemas import (
    EventPage,
    Membership,
    MembershipRequest,
    Team,
    TeamRequest,
    Token,
    TokenCreated,
    TokenRequest,
    User,
    UserRequest,
    WhoAmI,
)
from sapwood.server.routes.deps import CtxDep
from sapwood.server.routes.params import NamePath, TeamPath
from sapwood.server.services import events, teams, tokens
from sapwood.server.services.errors import Detail, InvalidError
from sapwood.server.services.paging import clamp_limit
from sapwood.specs.objects import kind_of

router = APIRouter(prefix="/api/v1", tags=["identity"])
NO_CONTENT = Response(status_code=204)


@router.get("/whoami")
async def whoami(ctx: CtxDep) -> WhoAmI:
    return teams.whoami(ctx.caller)


@router.get("/events")
async def list_events(
    ctx: CtxDep,
    team: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
    continue_: Annotated[str | None, Query(alias="continue")] = None,
) -> EventPage:
    api = ctx.state.settings.api
    try:
        # An empty kind is not "every kind": the document lists the kinds there are.
        canonical = kind_of(kind) if kind is not None else None
    except ValueError as exc:
        raise InvalidError(str(exc), details=[Detail("kind", str(exc))]) from None
    return await events.list_events(
        ctx.session,
        ctx.caller,
        team=team,
        kind=canonical,
        limit=clamp_limit(limit, default=api.page_size, maximum=api.max_page_size),
        continue_=continue_,
    )


@router.get("/teams")
async def list_teams(ctx: CtxDep) -> list[Team]:
    return await teams.list_teams(ctx.session, ctx.caller)


@router.post("/teams", status_code=201)
async def create_team(body: TeamRequest, ctx: CtxDep) -> Team:
    return await teams.create_team(ctx.session, ctx.caller, body.name, now=ctx.state.clock.now())


@router.delete("/teams/{name}", status_code=204)
async def delete_team(name: TeamPath, ctx: CtxDep) -> Response:
    await teams.delete_team(ctx.session, ctx.caller, name)
    return NO_CONTENT


@router.get("/users")
async def list_users(ctx: CtxDep) -> list[User]:
    return await teams.list_users(ctx.session, ctx.caller)


@router.post("/users", status_code=201)
async def create_user(body: UserRequest, ctx: CtxDep) -> User:
    return await teams.create_user(ctx.session, ctx.caller, body, now=ctx.state.clock.now())


@router.delete("/users/{name}", status_code=204)
async def delete_user(name: NamePath, ctx: CtxDep) -> Response:
    await teams.delete_user(ctx.session, ctx.caller, name)
    return NO_CONTENT


@router.put("/users/{name}/teams/{team}")
async def set_membership(
    name: NamePath, team: TeamPath, body: MembershipRequest, ctx: CtxDep
) -> Membership:
    return await teams.set_membership(ctx.session, ctx.caller, name, team, body.role)


@router.delete("/users/{name}/teams/{team}", status_code=204)
async def remove_membership(name: NamePath, team: TeamPath, ctx: CtxDep) -> Response:
    await teams.remove_membership(ctx.session, ctx.caller, name, team)
    return NO_CONTENT


@router.get("/tokens")
async def list_tokens(ctx: CtxDep, user: str | None = None) -> list[Token]:
    return await tokens.list_tokens(ctx.session, ctx.caller, user=user)


@router.post("/tokens", status_code=201)
async def create_token(body: TokenRequest, ctx: CtxDep) -> TokenCreated:
    return await tokens.create_token(ctx.session, ctx.caller, body, now=ctx.state.clock.now())


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, ctx: CtxDep) -> Response:
    await tokens.revoke_token(ctx.session, ctx.caller, token_id, now=ctx.state.clock.now())
    return NO_CONTENT
