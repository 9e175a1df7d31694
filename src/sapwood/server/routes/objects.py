"""/api/v1/{workspaces|jobs|services}[/{name}[/events]] and /api/v1/apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from sapwood.schemas import (
    ApplyRequest,
    ApplyResponse,
    DeleteResponse,
    EventPage,
    Object,
    ObjectPage,
)
from sapwood.server.routes.deps import CtxDep, StreamCtxDep, kind_of_plural
from sapwood.server.routes.params import NamePath
from sapwood.server.routes.streams import HeldStream
from sapwood.server.services import events, logs, objects
from sapwood.server.services.paging import clamp_limit
from sapwood.specs.selectors import SELECTOR_PATTERN

router = APIRouter(prefix="/api/v1", tags=["objects"])

KindPath = Annotated[str, Path(description="the kind's plural: workspaces, jobs, services, feeds")]
TeamQuery = Annotated[str | None, Query(description="the owning team")]
TEXT = "text/plain; charset=utf-8"


@router.post("/apply")
async def apply(body: ApplyRequest, ctx: CtxDep) -> ApplyResponse:
    """Creates or updates every object, or none of them."""
    response = await objects.apply_objects(
        ctx.session,
        ctx.caller,
        body.objects,
        dry_run=body.dry_run,
        now=ctx.state.clock.now(),
        priorities=ctx.state.settings.scheduling.priorities,
        local_workdirs=ctx.state.local_workdirs,
    )
    return response  # the controller hears of the rows it wrote when they commit


@router.get("/{plural:plural}")
async def list_objects(
    plural: KindPath,
    ctx: CtxDep,
    team: TeamQuery = None,
    selector: Annotated[
        str | None,
        Query(
            description="label selector, e.g. app=web,tier!=batch",
            json_schema_extra={"pattern": SELECTOR_PATTERN},
        ),
    ] = None,
    limit: int | None = None,
    continue_: Annotated[str | None, Query(alias="continue")] = None,
) -> ObjectPage:
    api = ctx.state.settings.api
    return await objects.list_objects(
        ctx.session,
        ctx.caller,
        kind_of_plural(plural),
        team=team,
        selector=selector,
        limit=clamp_limit(limit, default=api.page_size, maximum=api.max_page_size),
        continue_=continue_,
    )


@router.get("/{plural:plural}/{name}")
async def get_object(
    plural: KindPath, name: NamePath, ctx: CtxDep, team: TeamQuery = None
) -> Object:
    return await objects.get_object(
        ctx.session, ctx.caller, kind_of_plural(plural), name, team=team
    )


@router.delete("/{plural:plural}/{name}")
async def delete_object(
    plural: KindPath, name: NamePath, ctx: CtxDep, team: TeamQuery = None
) -> DeleteResponse:
    kind = kind_of_plural(plural)
    response = await objects.delete_object(
        ctx.session, ctx.caller, kind, name, team=team, now=ctx.state.clock.now()
    )
    return response


@router.get("/{plural:plural}/{name}/events")
async def object_events(
    plural: KindPath,
    name: NamePath,
    ctx: CtxDep,
    team: TeamQuery = None,
    limit: int | None = None,
    continue_: Annotated[str | None, Query(alias="continue")] = None,
) -> EventPage:
    row = await objects.find_object(
        ctx.session, ctx.caller, kind_of_plural(plural), name, team=team
    )
    api = ctx.state.settings.api
    return await events.list_events(
        ctx.session,
        ctx.caller,
        team=row.team,
        uid=row.uid,
        limit=clamp_limit(limit, default=api.page_size, maximum=api.max_page_size),
        continue_=continue_,
    )


@router.get("/{plural:plural}/{name}/logs", response_class=StreamingResponse)
async def object_logs(
    plural: KindPath,
    name: NamePath,
    ctx: StreamCtxDep,
    team: TeamQuery = None,
    replica: int = 0,
    follow: bool = False,
    previous: bool = False,
) -> StreamingResponse:
    """One replica's stdout and stderr; ``follow`` streams until the client hangs up, and
    counts against the token's cap on open streams (429 past it)."""
    async with ctx.state.sessions() as session:  # closed before the first byte
        chunks = await logs.open_logs(
            session,
            ctx.caller,
            ctx.state.reads,
            kind_of_plural(plural),
            name,
            team=team,
            replica=replica,
            follow=follow,
            previous=previous,
        )
    if not follow:
        return StreamingResponse(chunks, media_type=TEXT)
    slot = ctx.state.streams.acquire(ctx.caller.token_id)
    return HeldStream(chunks, slot=slot, media_type=TEXT)
