"""POST /api/v1/{workspaces|services}/{name}/pause and .../resume; /jobs/{name}/rerun;
/teams/{team}/workspaces/{name}/extend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from sapwood.schemas import ExtendRequest, Object
from sapwood.server.routes.deps import CtxDep, kind_of_plural
from sapwood.server.routes.params import NamePath, TeamPath
from sapwood.server.services import extend, pause, rerun

router = APIRouter(prefix="/api/v1", tags=["objects"])

KindPath = Annotated[str, Path(description="workspaces or services")]
TeamQuery = Annotated[str | None, Query(description="the owning team")]


@router.post("/{plural:plural}/{name}/pause")
async def pause_object(
    plural: KindPath, name: NamePath, ctx: CtxDep, team: TeamQuery = None
) -> Object:
    """Stops every replica and returns the resources; the volumes are kept."""
    kind = kind_of_plural(plural)
    obj = await pause.pause_object(
        ctx.session, ctx.caller, kind, name, team=team, now=ctx.state.clock.now()
    )
    return obj


@router.post("/{plural:plural}/{name}/resume")
async def resume_object(
    plural: KindPath, name: NamePath, ctx: CtxDep, team: TeamQuery = None
) -> Object:
    """Queues a paused (or idle-paused) workload for admission again."""
    kind = kind_of_plural(plural)
    obj = await pause.resume_object(
        ctx.session, ctx.caller, kind, name, team=team, now=ctx.state.clock.now()
    )
    return obj


@router.post("/jobs/{name}/rerun")
async def rerun_job(name: NamePath, ctx: CtxDep, team: TeamQuery = None) -> Object:
    """Runs a Succeeded or Failed job again with the same spec; 409 while it runs.

    Its status starts afresh (Pending, reason Rerun): ``run`` is the run's number and
    ``history`` holds the earlier runs' outcomes."""
    obj = await rerun.rerun_job(ctx.session, ctx.caller, name, team=team, now=ctx.state.clock.now())
    return obj


@router.post("/teams/{team}/workspaces/{name}/extend")
async def extend_workspace(
    team: TeamPath, name: NamePath, body: ExtendRequest, ctx: CtxDep
) -> Object:
    """Moves the workspace's expiry to ``max(now, expiry) + by`` (no ttl yet: ``by`` from
    now) by rewriting ``spec.ttl``; ``status.expiresAt`` shows it. A workspace paused at
    expiry stays paused, and may be resumed again."""
    return await extend.extend_workspace(
        ctx.session, ctx.caller, name, team=team, by=body.by, now=ctx.state.clock.now()
    )
