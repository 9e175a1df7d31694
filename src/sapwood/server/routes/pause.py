"""POST /api/v1/{workspaces|services}/{name}/pause and .../resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from sapwood.schemas import Object
from sapwood.server.routes.deps import CtxDep, kind_of_plural
from sapwood.server.services import pause

router = APIRouter(prefix="/api/v1", tags=["objects"])

KindPath = Annotated[str, Path(description="workspaces or services")]
TeamQuery = Annotated[str | None, Query(description="the owning team")]


@router.post("/{plural}/{name}/pause")
async def pause_object(plural: KindPath, name: str, ctx: CtxDep, team: TeamQuery = None) -> Object:
    """Stops every replica and returns the resources; the volumes are kept."""
    kind = kind_of_plural(plural)
    obj = await pause.pause_object(
        ctx.session, ctx.caller, kind, name, team=team, now=ctx.state.clock.now()
    )
    ctx.state.wake(kind)
    return obj


@router.post("/{plural}/{name}/resume")
async def resume_object(plural: KindPath, name: str, ctx: CtxDep, team: TeamQuery = None) -> Object:
    """Queues a paused (or idle-paused) workload for admission again."""
    kind = kind_of_plural(plural)
    obj = await pause.resume_object(
        ctx.session, ctx.caller, kind, name, team=team, now=ctx.state.clock.now()
    )
    ctx.state.wake(kind)
    return obj
